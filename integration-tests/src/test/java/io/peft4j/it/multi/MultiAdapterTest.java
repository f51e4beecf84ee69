package io.peft4j.it.multi;

import static io.peft4j.it.multi.TwoAdapters.ROWS;
import static io.peft4j.it.multi.TwoAdapters.logits;
import static io.peft4j.it.multi.TwoAdapters.maxAbs;
import static io.peft4j.it.multi.TwoAdapters.maxAbsDiff;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.peft4j.api.ConfigException;
import io.peft4j.api.LowRankSite;
import io.peft4j.core.model.GenerationOptions;
import io.peft4j.core.model.Generator;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.run.TuningSession;
import io.peft4j.it.support.Dist;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Several LoRA adapters on one stories260K: activating one, both (their contributions add: the same logits as both
 * merged into the weights) or none (base logits), switching without reloading, deleting; and mixed batches, where
 * each row uses its own adapter (PEFT's {@code adapter_names}).
 */
class MultiAdapterTest {
    private static PluginRuntime rt;

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() {
        rt = PluginRuntime.start(Dist.pluginsDir());
    }

    @AfterAll
    static void stop() {
        rt.close();
    }

    @Test
    void activateSwitchCombineAndDelete() {
        try (TuningSession s = TwoAdapters.open(rt, tmp)) {
            long[] row = ROWS[0];
            float[] base = logits(s, row);
            s.peft().setActive(List.of("a"));
            float[] a = logits(s, row);
            s.peft().setActive(List.of("b"));
            float[] b = logits(s, row);
            assertThat(maxAbsDiff(a, base)).as("adapter a changes the model").isGreaterThan(1e-2);
            assertThat(maxAbsDiff(b, base)).as("adapter b changes the model").isGreaterThan(1e-2);
            assertThat(maxAbsDiff(a, b)).isGreaterThan(1e-2);

            s.peft().setActive(List.of("a"));
            assertThat(logits(s, row)).as("switching back needs no reload").containsExactly(a);

            s.peft().setActive(List.of("a", "b"));
            float[] both = logits(s, row);
            assertThat(maxAbsDiff(both, a)).isGreaterThan(1e-2);
            // Both active = base weights plus both updates: compare with both merged into the weights.
            double tol = 1e-5 * Math.max(1, maxAbs(both));
            s.peft().merge("a");
            s.peft().merge("b");
            s.peft().setActive(List.of());
            assertThat(maxAbsDiff(logits(s, row), both)).as("both active = both merged").isLessThan(tol);
            s.peft().unmergeAll();
            assertThat(maxAbsDiff(logits(s, row), base)).isLessThan(tol);

            s.peft().setActive(List.of());
            assertThat(maxAbsDiff(logits(s, row), base)).as("no adapter active = base model (after unmerge)")
                    .isLessThan(tol);

            assertThatThrownBy(() -> s.peft().setActive(List.of("a", "c")))
                    .isInstanceOf(ConfigException.class)
                    .hasMessageContaining("\"c\" is not loaded").hasMessageContaining("[a, b]");

            LowRankSite bSite = (LowRankSite) s.peft().adapter("b").instance().modules()
                    .get("model.layers.0.mlp.down_proj");
            s.peft().setActive(List.of("a", "b"));
            s.peft().deleteAdapter("b");
            assertThat(s.peft().adapters()).containsOnlyKeys("a");
            assertThat(s.peft().active()).containsExactly("a");
            assertThat(s.model().linear("model.layers.0.mlp.down_proj").adapters()).isEmpty();
            assertThat(bSite.loraA().isReleased()).as("deleting frees the adapter's tensors").isTrue();
            assertThat(maxAbsDiff(logits(s, row), a)).as("only a remains").isLessThan(tol);
        }
    }

    @Test
    void mixedBatchGivesEachRowItsOwnAdapter() {
        try (TuningSession s = TwoAdapters.open(rt, tmp)) {
            List<String> perRow = Arrays.asList("a", "b", null);
            float[][] expected = new float[3][];
            for (int i = 0; i < 3; i++) {
                s.peft().setActive(perRow.get(i) == null ? List.of() : List.of(perRow.get(i)));
                expected[i] = logits(s, ROWS[i]);
            }
            // The assignment replaces whatever is active.
            s.peft().setActive(List.of("a", "b"));
            float[][] mixed = logits(s, ROWS, s.peft().rowAdapters(perRow));
            // 1e-5 relative to the largest logit (~20 here, where one float32 ulp is 2e-6): a batch of 3 and a batch
            // of 1 round matmuls differently even without adapters.
            double tol = 1e-5 * Math.max(1, maxAbs(expected[0]));
            for (int i = 0; i < 3; i++) {
                assertThat(maxAbsDiff(mixed[i], expected[i])).as("row " + i + " (" + perRow.get(i) + ")")
                        .isLessThan(tol);
            }
            // Rows sharing an adapter, and an order where the base row comes first.
            List<String> other = Arrays.asList(null, "b", "b");
            float[][] mixed2 = logits(s, ROWS, s.peft().rowAdapters(other));
            s.peft().setActive(List.of("b"));
            assertThat(maxAbsDiff(mixed2[2], logits(s, ROWS[2]))).isLessThan(tol);
            s.peft().setActive(List.of());
            assertThat(maxAbsDiff(mixed2[0], logits(s, ROWS[0]))).as("row 0 without adapter = base")
                    .isLessThan(tol);

            // Generation with the KV cache: one batch, each prompt as it would be alone with its adapter.
            List<String> prompts = List.of("Once upon a time", "The cat", "A little girl");
            GenerationOptions g = GenerationOptions.greedy(8);
            List<Generator.Result> together = s.generate(prompts, g, perRow);
            for (int i = 0; i < 3; i++) {
                s.peft().setActive(perRow.get(i) == null ? List.of() : List.of(perRow.get(i)));
                Generator.Result alone = s.generate(List.of(prompts.get(i)), g).get(0);
                assertThat(together.get(i).newIds()).as("prompt " + i).containsExactly(alone.newIds());
            }

            assertThatThrownBy(() -> s.peft().rowAdapters(Arrays.asList("a", "zz", null)))
                    .isInstanceOf(ConfigException.class)
                    .hasMessageContaining("\"zz\" is not loaded").hasMessageContaining("[a, b]");
            assertThatThrownBy(() -> logits(s, ROWS, s.peft().rowAdapters(List.of("a", "b"))))
                    .hasMessageContaining("3 rows but 2 per-row adapters");
            s.peft().merge("a");
            assertThatThrownBy(() -> s.peft().rowAdapters(perRow))
                    .isInstanceOf(ConfigException.class).hasMessageContaining("unmerge");
            s.peft().unmergeAll();
        }
    }

    @Test
    void mixedBatchRefusesDora() {
        try (TuningSession s = TwoAdapters.open(rt, tmp)) {
            TwoAdapters.add(s, rt.extensions().requireAdapter("dora"), "d",
                    Map.of("r", 2, "lora_alpha", 4, "target_modules", List.of("q_proj")), 3);
            assertThatThrownBy(() -> s.peft().rowAdapters(Arrays.asList("a", "d", null)))
                    .isInstanceOf(ConfigException.class).hasMessageContaining("method dora")
                    .hasMessageContaining("mixed batches");
        }
    }
}
