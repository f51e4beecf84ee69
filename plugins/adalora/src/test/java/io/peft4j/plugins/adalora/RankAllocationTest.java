package io.peft4j.plugins.adalora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.training.GradientCollector;
import io.peft4j.api.AdapterInstance;
import io.peft4j.api.ConfigException;
import io.peft4j.api.PeftKeys;
import io.peft4j.api.RankAllocator;
import io.peft4j.plugins.testkit.GoldenCase;
import io.peft4j.plugins.testkit.ManagedTensorTest;
import io.peft4j.plugins.testkit.TestAdapterContext;
import io.peft4j.plugins.testkit.TestForwardContext;
import io.peft4j.plugins.testkit.TestLinearBase;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The "adalora" rank allocator against golden {@code adalora_rank_allocation}, driven as the platform drives it:
 * parameters and gradients of each step are in place, then {@code Schedule.afterStep(step)}.
 */
class RankAllocationTest extends ManagedTensorTest {
    /**
     * Gives each parameter {@code pg[0]} exactly the gradient {@code pg[1]}: backward of {@code sum(p ⊙ g)}, after
     * zeroing old gradients.
     */
    static void setGradients(List<NDArray[]> gradients) {
        for (NDArray[] pg : gradients) {
            NDArray p = pg[0];
            if (!p.hasGradient()) {
                p.setRequiresGradient(true);
            } else {
                try (NDArray g = p.getGradient()) {
                    g.muli(0);
                }
            }
        }
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            NDArray loss = null;
            for (NDArray[] pg : gradients) {
                NDArray t = pg[0].mul(pg[1]).sum();
                loss = loss == null ? t : loss.add(t);
            }
            gc.backward(loss);
        }
    }

    /**
     * The golden case's budget (5 of 8 after the third step) arises from the schedule: init_r 4, target_r 2 on two
     * modules (target budget 4), total_step 10, deltaT 3; PEFT global steps 1, 2 (optimizer steps 2, 3) only update
     * the importance and global step 3 allocates int(4 · 0.7³ + 4) = 5.
     */
    static AdaLoraConfig allocationConfig(GoldenCase g, List<String> targets) {
        return new AdaLoraConfig(g.config().get("init_r").asInt(), 2, 0, 0, 3, g.config().get("beta1").asDouble(),
                g.config().get("beta2").asDouble(), null, 10, null, null, null, targets, null, null, null, null, null,
                null, null, null, null, null);
    }

    @Test
    void importanceThresholdMaskPatternAndSavedTensorsMatchGolden() {
        GoldenCase g = GoldenCase.read("adalora_rank_allocation");
        List<String> paths = new ArrayList<>();
        g.config().get("layer_names").forEach(n -> paths.add(n.asText()));
        TestLinearBase[] layers = paths.stream().map(p -> TestLinearBase.random(m, p, 12, 16))
                .toArray(TestLinearBase[]::new);
        AdaLoraConfig c = allocationConfig(g, List.of("q_proj", "v_proj"));
        c.validate();
        TestAdapterContext ctx = TestAdapterContext.overLayers(m, List.of(), layers);
        AdapterInstance inst = new AdaLoraAdapter().create("default", c, ctx.sites(), ctx);
        RankAllocator.Schedule s = new AdaLoraRankAllocator().start(inst, AdaLoraAllocatorOptions.none(), 10);

        int steps = g.config().get("steps").asInt();
        for (int t = 0; t < steps; t++) {
            Map<String, NDArray> saved = new HashMap<>();
            List<NDArray[]> grads = new ArrayList<>();   // not a map: NDArray.equals compares contents
            for (String path : paths) {
                AdaLoraLayer l = (AdaLoraLayer) inst.modules().get(path);
                for (String part : List.of("lora_A", "lora_E", "lora_B")) {
                    String key = "step" + t + "." + path + "." + part;
                    saved.put(PeftKeys.saved(path, part), g.input(m, key));
                    NDArray p = part.equals("lora_A") ? l.loraA() : part.equals("lora_E") ? l.loraE() : l.loraB();
                    grads.add(new NDArray[] {p, g.input(m, key + ".grad")});
                }
            }
            inst.loadStateDict(saved);
            setGradients(grads);
            s.afterStep(t + 2);   // optimizer step t + 2 = PEFT global_step t + 1, the step the case was made at
        }

        Map<String, Object> diag = ((AdaLoraSchedule) s).diagnostics();
        assertThat(diag.get("budget")).isEqualTo(g.config().get("budget").asInt());
        assertThat(((AdaLoraSchedule) s).budgetSchedule().initBgt()).isEqualTo(g.config().get("init_bgt").asInt());
        assertThat(diag.get("k")).isEqualTo(g.expected().get("k").asInt());
        double thr = g.expected().get("threshold").asDouble();
        assertThat(Math.abs((Double) diag.get("threshold") - thr)).isLessThanOrEqualTo(g.atol() + g.rtol() * thr);
        for (String path : paths) {
            AdaLoraLayer l = (AdaLoraLayer) inst.modules().get(path);
            g.assertClose(path + " triplet_score", (NDArray) diag.get(path + ".triplet_score"),
                    g.expected(m, path + ".triplet_score"));
            g.assertClose(path + " lora_E_masked", l.loraE(), g.expected(m, path + ".lora_E_masked"));
            for (String part : List.of("lora_A", "lora_E", "lora_B")) {
                for (String st : List.of("exp_avg_ipt", "exp_avg_unc")) {
                    String key = path + "." + part + "." + st;
                    g.assertClose(key, (NDArray) diag.get(key), g.expected(m, key));
                }
            }
        }

        Map<String, List<Boolean>> pattern = ((AdaLoraInstance) inst).config().rankPattern();
        Map<String, List<Boolean>> expectedPattern = new LinkedHashMap<>();
        g.expected().get("rank_pattern_saved_in_config").fields().forEachRemaining(e -> {
            List<Boolean> v = new ArrayList<>();
            e.getValue().forEach(b -> v.add(b.asBoolean()));
            expectedPattern.put(e.getKey(), v);
        });
        assertThat(pattern).isEqualTo(expectedPattern);
        assertThat(s.currentRanks()).containsEntry(paths.get(0), 1).containsEntry(paths.get(1), 4);

        Map<String, NDArray> state = inst.stateDict();
        List<String> expectedKeys = new ArrayList<>();
        g.expected().get("saved_state_dict").fieldNames().forEachRemaining(expectedKeys::add);
        assertThat(state.keySet()).containsExactlyInAnyOrderElementsOf(expectedKeys);
        for (String key : expectedKeys) {
            g.assertClose("saved " + key, state.get(key),
                    GoldenCase.tensor(m, g.expected().get("saved_state_dict").get(key)));
        }
    }

    @Test
    void reloadedResizedAdapterKeepsTheScaleAndTheOutput() {
        GoldenCase g = GoldenCase.read("adalora_rank_allocation");
        String q = "model.layers.0.self_attn.q_proj";
        TestLinearBase base = TestLinearBase.random(m, q, 12, 16);
        AdaLoraConfig c = allocationConfig(g, List.of("q_proj"));
        TestAdapterContext ctx = TestAdapterContext.overLayers(m, List.of(), base);
        AdapterInstance inst = new AdaLoraAdapter().create("default", c, ctx.sites(), ctx);
        AdaLoraLayer l = (AdaLoraLayer) inst.modules().get(q);
        l.loraE().set(new ai.djl.ndarray.index.NDIndex("..."), m.create(new float[] {0.5f, 0f, -1.5f, 0f},
                new ai.djl.ndarray.types.Shape(4, 1)));
        ((AdaLoraInstance) inst).setRankPattern(Map.of(q + ".lora_E", List.of(true, false, true, false)));
        NDArray x = m.randomNormal(new ai.djl.ndarray.types.Shape(3, 16));
        NDArray y = base.forward(x, List.of(l), TestForwardContext.eval(m));
        Map<String, NDArray> saved = inst.stateDict();
        assertThat(saved.get(PeftKeys.saved(q, "lora_A")).getShape().getShape()).containsExactly(2, 16);
        assertThat(saved.get(PeftKeys.saved(q, "lora_E")).getShape().getShape()).containsExactly(2, 1);
        assertThat(saved.get(PeftKeys.saved(q, "lora_B")).getShape().getShape()).containsExactly(12, 2);

        // A fresh adapter from the saved config: rank 2 per the pattern, ranknum (the scale) still init_r = 4.
        AdaLoraConfig savedConfig = ((AdaLoraInstance) inst).config();
        savedConfig.validate();
        AdapterInstance reloaded = new AdaLoraAdapter().create("default", savedConfig, ctx.sites(), ctx);
        reloaded.loadStateDict(saved);
        AdaLoraLayer r = (AdaLoraLayer) reloaded.modules().get(q);
        assertThat(r.rank()).isEqualTo(2);
        assertThat(r.ranknum()).isEqualTo(4f);
        NDArray y2 = base.forward(x, List.of(r), TestForwardContext.eval(m));
        g.assertClose("reloaded output", y2, y);
        assertThat(reloaded.stateDict().get(PeftKeys.saved(q, "lora_A")).getShape().getShape()).containsExactly(2, 16);

        // Shapes from a different model name the module and both shapes.
        Map<String, NDArray> wrong = new HashMap<>(saved);
        wrong.put(PeftKeys.saved(q, "lora_A"), m.zeros(new ai.djl.ndarray.types.Shape(2, 32)));
        assertThatThrownBy(() -> reloaded.loadStateDict(wrong)).isInstanceOf(ConfigException.class)
                .hasMessageContaining(q).hasMessageContaining("(2, 32)").hasMessageContaining("(2, 16)");
    }

    @Test
    void totalStepBeyondTheRunAndUnknownOptionsAreRejected() {
        TestLinearBase base = TestLinearBase.random(m, "model.layers.0.self_attn.q_proj", 12, 16);
        AdaLoraConfig c = AdaLoraConfig.of(4, 2, 50, List.of("q_proj"));
        TestAdapterContext ctx = TestAdapterContext.overLayers(m, List.of(), base);
        AdapterInstance inst = new AdaLoraAdapter().create("default", c, ctx.sites(), ctx);
        AdaLoraRankAllocator alloc = new AdaLoraRankAllocator();
        assertThatThrownBy(() -> alloc.start(inst, AdaLoraAllocatorOptions.none(), 20))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("total_step:").hasMessageContaining("20");
        AdaLoraAllocatorOptions totalStep20 = new AdaLoraAllocatorOptions(20, null, null, null, null, null, null);
        assertThat(alloc.start(inst, totalStep20, 20).currentRanks()).containsValue(4);
        AdaLoraAllocatorOptions tinit50 = new AdaLoraAllocatorOptions(null, 50, null, null, null, null, null);
        assertThatThrownBy(() -> alloc.start(inst, tinit50, 50)).isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("rank_allocator.tinit:");
        // Before any tensor: the same check against the adapter's config; an error of a value the options do not
        // override is the adapter's own.
        assertThatThrownBy(() -> alloc.validate(c, tinit50)).isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("rank_allocator.tinit:");
        AdaLoraAllocatorOptions tfinal50 = new AdaLoraAllocatorOptions(null, null, 50, null, null, null, null);
        assertThatThrownBy(() -> alloc.validate(c, tfinal50)).isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("tinit:");
        alloc.validate(c, totalStep20);
        assertThat(alloc.supports("adalora")).isTrue();
        assertThat(alloc.supports("lora")).isFalse();
    }
}
