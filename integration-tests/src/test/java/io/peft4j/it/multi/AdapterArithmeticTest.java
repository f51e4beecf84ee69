package io.peft4j.it.multi;

import static io.peft4j.it.multi.TwoAdapters.ROWS;
import static io.peft4j.it.multi.TwoAdapters.logits;
import static io.peft4j.it.multi.TwoAdapters.maxAbs;
import static io.peft4j.it.multi.TwoAdapters.maxAbsDiff;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.peft4j.api.Adapter;
import io.peft4j.api.ConfigException;
import io.peft4j.api.LowRankSite;
import io.peft4j.api.Merger;
import io.peft4j.core.peft.AdapterArithmetic;
import io.peft4j.core.peft.AdapterConfigCodec;
import io.peft4j.core.peft.AttachedAdapter;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.run.TuningSession;
import io.peft4j.it.support.Dist;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** add_weighted_adapter on stories260K through the installed merging plugin. */
class AdapterArithmeticTest {
    private static PluginRuntime rt;
    private static Merger<?> merger;
    private static Adapter lora;

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() {
        rt = PluginRuntime.start(Dist.pluginsDir());
        merger = rt.extensions().merger("weighted").orElseThrow();
        lora = rt.extensions().requireAdapter("lora");
    }

    @AfterAll
    static void stop() {
        rt.close();
    }

    @Test
    void catIsExactlyTheWeightedSumOfTheInputs() {
        try (TuningSession s = TwoAdapters.open(rt, tmp)) {
            s.peft().setActive(List.of("a", "b"));
            float[] both = logits(s, ROWS[0]);
            AttachedAdapter c = AdapterArithmetic.addWeighted(s.peft(), merger, List.of("a", "b"),
                    List.of(1.0, 1.0), "ab", "cat", Map.of(), 0);
            Map<String, Object> json = AdapterConfigCodec.toPeftJson(lora, c.instance().config(), null);
            assertThat(json).containsEntry("r", 6).containsEntry("use_rslora", false);
            assertThat(((Number) json.get("lora_alpha")).doubleValue()).isEqualTo(6.0);
            assertThat(json.get("target_modules")).asList().containsExactlyInAnyOrder("q_proj", "v_proj", "down_proj");
            LowRankSite q = (LowRankSite) c.instance().modules().get("model.layers.0.self_attn.q_proj");
            assertThat(q.scaling()).isEqualTo(1f);
            assertThat(q.rank()).isEqualTo(6);
            assertThat(s.peft().active()).as("the new adapter is attached inactive").containsExactly("a", "b");
            s.peft().setActive(List.of("ab"));
            assertThat(maxAbsDiff(logits(s, ROWS[0]), both)).isLessThan(1e-5 * Math.max(1, maxAbs(both)));

            // A negative weight subtracts: a cat with weights (1, -1) and b active again gives a alone.
            AdapterArithmetic.addWeighted(s.peft(), merger, List.of("a", "b"), List.of(1.0, -1.0), "a_minus_b",
                    "cat", Map.of(), 0);
            s.peft().setActive(List.of("a"));
            float[] a = logits(s, ROWS[0]);
            s.peft().setActive(List.of("a_minus_b", "b"));
            assertThat(maxAbsDiff(logits(s, ROWS[0]), a)).isLessThan(1e-5 * Math.max(1, maxAbs(a)));

            // One adapter: PEFT combines it linearly whatever the type (no density needed), a rescaled copy.
            AdapterArithmetic.addWeighted(s.peft(), merger, List.of("a"), List.of(1.0), "a_copy", "ties",
                    Map.of(), 0);
            s.peft().setActive(List.of("a_copy"));
            assertThat(maxAbsDiff(logits(s, ROWS[0]), a)).isLessThan(1e-5 * Math.max(1, maxAbs(a)));
        }
    }

    @Test
    void svdAndLinearTypes() {
        try (TuningSession s = TwoAdapters.open(rt, tmp)) {
            AttachedAdapter svd = AdapterArithmetic.addWeighted(s.peft(), merger, List.of("a", "b"),
                    List.of(0.7, 0.3), "svd", "svd", Map.of(), 0);
            LowRankSite v = (LowRankSite) svd.instance().modules().get("model.layers.0.self_attn.v_proj");
            assertThat(v.rank()).as("svd: the largest input rank").isEqualTo(4);
            // On v_proj both inputs contribute; their combined update has rank <= 6, truncated to 4 by the SVD.
            LowRankSite down = (LowRankSite) svd.instance().modules().get("model.layers.0.mlp.down_proj");
            assertThat(down.loraB().matMul(down.loraA()).abs().max().getFloat()).isGreaterThan(0f);

            TwoAdapters.add(s, lora, "c", Map.of("r", 4, "lora_alpha", 4, "target_modules", List.of("q_proj", "v_proj")),
                    33);
            AttachedAdapter ties = AdapterArithmetic.addWeighted(s.peft(), merger, List.of("a", "c"),
                    List.of(0.5, 0.5), "ties", "ties", Map.of("density", 0.5, "majority_sign_method", "frequency"), 0);
            assertThat(((LowRankSite) ties.instance().modules().get("model.layers.0.self_attn.q_proj")).rank())
                    .isEqualTo(4);
            AttachedAdapter dare1 = AdapterArithmetic.addWeighted(s.peft(), merger, List.of("a", "c"),
                    List.of(0.5, 0.5), "dare1", "dare_linear", Map.of("density", 0.5), 42);
            AttachedAdapter dare2 = AdapterArithmetic.addWeighted(s.peft(), merger, List.of("a", "c"),
                    List.of(0.5, 0.5), "dare2", "dare_linear", Map.of("density", 0.5), 42);
            String q = "model.layers.1.self_attn.q_proj";
            assertThat(((LowRankSite) dare1.instance().modules().get(q)).loraA().toFloatArray())
                    .as("same seed, same DARE masks")
                    .containsExactly(((LowRankSite) dare2.instance().modules().get(q)).loraA().toFloatArray());
        }
    }

    @Test
    void errors() {
        try (TuningSession s = TwoAdapters.open(rt, tmp)) {
            assertThatThrownBy(() -> AdapterArithmetic.addWeighted(s.peft(), merger, List.of("a", "b"),
                    List.of(1.0, 1.0), "x", "linear", Map.of(), 0))
                    .isInstanceOf(ConfigException.class).hasMessageContaining("linear needs equal ranks, got [4, 2]");
            assertThatThrownBy(() -> AdapterArithmetic.addWeighted(s.peft(), merger, List.of("a", "b"),
                    List.of(1.0), "x", "cat", Map.of(), 0))
                    .isInstanceOf(ConfigException.class).hasMessageContaining("got 1 weights for 2 adapters");
            for (double d : new double[] {0, 1.5}) {
                assertThatThrownBy(() -> AdapterArithmetic.addWeighted(s.peft(), merger, List.of("a", "b"),
                        List.of(1.0, 1.0), "x", "ties_svd", Map.of("density", d), 0))
                        .isInstanceOf(ConfigException.class).hasMessageContaining("density: must be in (0, 1]");
            }
            // Options are parsed into the merger's record: an unknown key names the nearest valid one; DARE's masks
            // are no option (a test replays them through the Random).
            assertThatThrownBy(() -> AdapterArithmetic.addWeighted(s.peft(), merger, List.of("a", "b"),
                    List.of(1.0, 1.0), "x", "ties_svd", Map.of("densty", 0.5), 0))
                    .isInstanceOf(ConfigException.class).hasMessageStartingWith("densty: unknown option for merger "
                            + "'weighted'; did you mean 'density'?");
            assertThatThrownBy(() -> AdapterArithmetic.addWeighted(s.peft(), merger, List.of("a", "b"),
                    List.of(1.0, 1.0), "x", "dare_linear", Map.of("density", 0.5, "dare_keep_masks", List.of()), 0))
                    .isInstanceOf(ConfigException.class).hasMessageStartingWith("dare_keep_masks: unknown option");
            assertThatThrownBy(() -> AdapterArithmetic.addWeighted(s.peft(), merger, List.of("a", "b"),
                    List.of(1.0, 1.0), "x", "svd", Map.of("svd_rank", "two"), 0))
                    .isInstanceOf(ConfigException.class).hasMessageStartingWith("svd_rank: expected a whole number");
            assertThatThrownBy(() -> AdapterArithmetic.addWeighted(s.peft(), merger, List.of("a", "b"),
                    List.of(1.0, 1.0), "a", "cat", Map.of(), 0))
                    .isInstanceOf(ConfigException.class).hasMessageContaining("\"a\" is already loaded");
            assertThatThrownBy(() -> AdapterArithmetic.addWeighted(s.peft(), merger, List.of("a", "nope"),
                    List.of(1.0, 1.0), "x", "cat", Map.of(), 0))
                    .isInstanceOf(ConfigException.class).hasMessageContaining("\"nope\" is not loaded");
            TwoAdapters.add(s, rt.extensions().requireAdapter("dora"), "d",
                    Map.of("r", 4, "lora_alpha", 8, "target_modules", List.of("q_proj")), 3);
            assertThatThrownBy(() -> AdapterArithmetic.addWeighted(s.peft(), merger, List.of("a", "d"),
                    List.of(1.0, 1.0), "x", "linear", Map.of(), 0))
                    .isInstanceOf(ConfigException.class).hasMessageContaining("DoRA magnitude");
            assertThat(s.peft().adapters()).as("failed calls leave no adapter behind").containsOnlyKeys("a", "b", "d");
        }
    }
}
