package io.peft4j.it.golden;

import io.peft4j.plugins.testkit.GoldenCase;
import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.JsonNode;
import io.peft4j.api.Adapter;
import io.peft4j.api.AdapterConfig;
import io.peft4j.api.LinearSiteModule;
import io.peft4j.api.Parameter;
import io.peft4j.api.PeftKeys;
import io.peft4j.api.RankAllocator;
import io.peft4j.core.plugin.Configured;
import io.peft4j.core.model.AdaptableLinear;
import io.peft4j.core.peft.AdapterConfigCodec;
import io.peft4j.core.peft.AttachedAdapter;
import io.peft4j.core.peft.PeftModel;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import io.peft4j.plugins.testkit.TestForwardContext;

/**
 * Golden cases of AdaLoRA ({@code adalora_*}), through the SPI: the installed "adalora" method parses the case
 * config, attaches to real {@link AdaptableLinear} layers and loads the case's tensors under PEFT's saved keys
 * ({@code lora_A}, {@code lora_E}, {@code lora_B}, no {@code .weight}); the installed "adalora" rank allocator is
 * driven as the platform's trainer drives it ({@code Schedule.afterStep} after gradients exist).
 *
 * <p>The allocator's internal scores, EMAs and threshold have no SPI view; they are read through the plugin's
 * documented diagnostic method {@code diagnostics()} of its schedule, found reflectively (plugin classes are not on
 * this test's classpath). Everything observable (masked E, rank pattern in the config, saved tensors, current ranks)
 * is checked through the SPI.
 */
final class AdaloraCases {
    static final String PATH = LoraFamilyCases.PATH;

    private AdaloraCases() {
    }

    private static Map<String, NDArray> saved(String path, NDArray a, NDArray e, NDArray b) {
        Map<String, NDArray> out = new HashMap<>();
        out.put(PeftKeys.saved(path, "lora_A"), a);
        out.put(PeftKeys.saved(path, "lora_E"), e);
        out.put(PeftKeys.saved(path, "lora_B"), b);
        return out;
    }

    /** {@code adalora_forward}: output and delta weight (scale lora_alpha / (init_r + 1e-5)); merge round trip. */
    static void forward(GoldenCase c, Adapter adalora, NDManager m) {
        SingleLinearHost host = new SingleLinearHost(m);
        AdaptableLinear linear = host.add(PATH, c.input(m, "weight"), c.input(m, "bias"));
        AttachedAdapter a = LoraFamilyCases.attach(c, adalora, m, host, Map.of("total_step", 10, "target_r", 2),
                saved(PATH, c.input(m, "lora_A"), c.input(m, "lora_E"), c.input(m, "lora_B")));
        NDArray y = linear.forward(c.input(m, "x"), host.active(), new TestForwardContext(false, m, null));
        c.assertClose("y", y, c.expected(m, "y"));
        LinearSiteModule site = (LinearSiteModule) a.instance().modules().get(PATH);
        c.assertClose("delta_weight", site.deltaWeight(linear).orElseThrow(), c.expected(m, "delta_weight"));
        NDArray w0 = linear.rawWeight().duplicate();
        linear.merge("default");
        NDArray yMerged = linear.forward(c.input(m, "x"), host.active(), new TestForwardContext(false, m, null));
        c.assertClose("y after merge", yMerged, c.expected(m, "y"));
        linear.unmergeAll();
        c.assertClose("unmerged weight", linear.rawWeight(), w0);
    }

    /** {@code adalora_orth_reg}: the auxiliary loss in training is orth_reg_weight · mean of the norms; none in eval. */
    static void orthReg(GoldenCase c, Adapter adalora, NDManager m) {
        int layers = c.config().get("num_layers").asInt();
        List<String> paths = List.of("model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj",
                "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj").subList(0, layers);
        SingleLinearHost host = new SingleLinearHost(m);
        Map<String, NDArray> tensors = new HashMap<>();
        int r = 0;
        for (int i = 0; i < layers; i++) {
            NDArray a = c.input(m, "layer" + i + "_lora_A");
            NDArray b = c.input(m, "layer" + i + "_lora_B");
            r = (int) a.getShape().get(0);
            host.add(paths.get(i), m.zeros(new Shape(b.getShape().get(0), a.getShape().get(1))), null);
            tensors.putAll(saved(paths.get(i), a, m.ones(new Shape(r, 1)), b));
        }
        Map<String, Object> cfg = new LinkedHashMap<>();
        cfg.put("init_r", r);
        cfg.put("target_r", r);
        cfg.put("total_step", 10);
        cfg.put("orth_reg_weight", c.config().get("orth_reg_weight").asDouble());
        cfg.put("target_modules", paths);
        PeftModel pm = new PeftModel(host, n -> Optional.empty());
        AttachedAdapter a = pm.addAdapter("default", adalora, AdapterConfigCodec.parseLenient(adalora, cfg, c.name()), 0);
        a.instance().loadStateDict(tensors);
        pm.setActive(List.of("default"));
        NDArray loss = pm.auxiliaryLoss(new TestForwardContext(true, m, null)).orElseThrow();
        c.assertClose("added_loss", loss.getFloat(), c.expected().get("added_loss").asDouble());
        c.assertClose("regu_loss", loss.getFloat() / c.config().get("orth_reg_weight").asDouble(),
                c.expected().get("regu_loss").asDouble());
        assertThat(pm.auxiliaryLoss(new TestForwardContext(false, m, null))).as("no regulariser in eval").isEmpty();
    }

    /**
     * {@code adalora_budget_schedule}: an adapter on {@code num_adapted_matrices} modules with the case's schedule,
     * driven step by step through the allocator; at every step the schedule's budget, mask flag and action must
     * match, and after every allocation the kept ranks must add up to the budget.
     */
    static void budgetSchedule(GoldenCase c, Adapter adalora, NDManager m) throws Exception {
        int n = c.config().get("num_adapted_matrices").asInt();
        int initR = c.config().get("init_r").asInt();
        SingleLinearHost host = new SingleLinearHost(m);
        List<String> paths = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String p = "model.layers." + (i / 2) + ".self_attn." + (i % 2 == 0 ? "q_proj" : "v_proj");
            paths.add(p);
            host.add(p, m.randomNormal(new Shape(24, 16)), null);
        }
        Map<String, Object> cfg = new LinkedHashMap<>();
        for (String k : List.of("init_r", "target_r", "tinit", "tfinal", "total_step", "deltaT")) {
            cfg.put(k, c.config().get(k).asInt());
        }
        cfg.put("init_lora_weights", false);   // E != 0, so pruned and kept triplets differ in importance
        cfg.put("target_modules", paths);
        AttachedAdapter a = new PeftModel(host, x -> Optional.empty()).addAdapter("default", adalora,
                AdapterConfigCodec.parseLenient(adalora, cfg, c.name()), 0);
        List<NDArray[]> grads = new ArrayList<>();
        for (Parameter p : a.instance().parameters()) {
            grads.add(new NDArray[] {p.value(), m.randomNormal(p.value().getShape())});
        }
        setGradients(grads);   // kept for every step: the trainer's gradients would change, the schedule does not

        JsonNode schedule = c.expected().get("schedule");
        int lastStep = schedule.get(schedule.size() - 1).get("step").asInt();
        RankAllocator.Schedule s = allocator().start(a.instance(), lastStep + 1);
        assertThat(s.currentRanks().values().stream().mapToInt(Integer::intValue).sum())
                .isEqualTo(c.expected().get("init_bgt").asInt()).isEqualTo(initR * n);
        int allocated = initR * n;
        for (JsonNode e : schedule) {
            int step = e.get("step").asInt();   // PEFT's global_step: the SPI's optimizer step - 1
            s.afterStep(step + 1);
            Map<String, Object> d = diagnostics(s);
            String at = c.name() + " step " + step;
            assertThat(d.get("budget")).as(at + " budget").isEqualTo(e.get("budget").asInt());
            assertThat(d.get("mask_ind")).as(at + " mask_ind").isEqualTo(e.get("mask_ind").asBoolean());
            assertThat(d.get("action")).as(at + " action").isEqualTo(e.get("action").asText());
            if (e.get("action").asText().contains("mask_to_budget")) {
                allocated = e.get("budget").asInt();
            }
            assertThat(s.currentRanks().values().stream().mapToInt(Integer::intValue).sum()).as(at + " kept ranks")
                    .isEqualTo(allocated);
        }
        assertThat(allocated).isEqualTo(c.expected().get("target_bgt").asInt());
        Object pattern = AdapterConfigCodec.toPeftJson(adalora, a.instance().config(), null).get("rank_pattern");
        assertThat(pattern).as("rank_pattern written to adapter_config.json").isInstanceOf(Map.class);
        assertThat(((Map<?, ?>) pattern).keySet()).hasSize(n);
    }

    /**
     * {@code adalora_rank_allocation}: per step the case's parameters are loaded and its gradients attached, then
     * {@code afterStep}. The schedule is the case's ({@code target_r, total_step, deltaT, tinit, tfinal}; the shared
     * set's cases leave them out: target_r 2, total_step 10, deltaT 3, which reaches budget 5 of 8 at the third step);
     * scores, EMAs, threshold, masked E, pattern, kept triplets and the resized saved tensors are compared.
     */
    static void rankAllocation(GoldenCase c, Adapter adalora, NDManager m) throws Exception {
        List<String> paths = new ArrayList<>();
        c.config().get("layer_names").forEach(x -> paths.add(x.asText()));
        SingleLinearHost host = new SingleLinearHost(m);
        for (String p : paths) {
            NDArray b = c.input(m, "step0." + p + ".lora_B");
            NDArray a = c.input(m, "step0." + p + ".lora_A");
            host.add(p, m.randomNormal(new Shape(b.getShape().get(0), a.getShape().get(1))), null);
        }
        Map<String, Object> cfg = new LinkedHashMap<>();
        cfg.put("init_r", c.config().get("init_r").asInt());
        // The shared set's schedule (target_r 2, total_step 10, deltaT 3) unless the case states its own.
        cfg.put("target_r", c.config().path("target_r").asInt(2));
        cfg.put("total_step", c.config().path("total_step").asInt(10));
        cfg.put("deltaT", c.config().path("deltaT").asInt(3));
        cfg.put("tinit", c.config().path("tinit").asInt(0));
        cfg.put("tfinal", c.config().path("tfinal").asInt(0));
        cfg.put("beta1", c.config().get("beta1").asDouble());
        cfg.put("beta2", c.config().get("beta2").asDouble());
        cfg.put("target_modules", paths);
        AttachedAdapter a = new PeftModel(host, x -> Optional.empty()).addAdapter(c.config().path("adapter_name")
                .asText("default"), adalora, AdapterConfigCodec.parseLenient(adalora, cfg, c.name()), 0);
        RankAllocator.Schedule s = allocator().start(a.instance(), 0);
        Map<String, NDArray> params = new HashMap<>();
        for (Parameter p : a.instance().parameters()) {
            params.put(p.name(), p.value());
        }
        int steps = c.config().get("steps").asInt();
        for (int t = 0; t < steps; t++) {
            Map<String, NDArray> tensors = new HashMap<>();
            List<NDArray[]> grads = new ArrayList<>();
            for (String p : paths) {
                for (String part : List.of("lora_A", "lora_E", "lora_B")) {
                    String key = "step" + t + "." + p + "." + part;
                    tensors.put(PeftKeys.saved(p, part), c.input(m, key));
                    grads.add(new NDArray[] {params.get(PeftKeys.inMemory(p, part, a.name(), null)),
                            c.input(m, key + ".grad")});
                }
            }
            a.instance().loadStateDict(tensors);
            setGradients(grads);
            // The SPI's step is the 1-based optimizer step, PEFT's global_step + 1 (PEFT's loops pass 0 at the first
            // optimizer step). The shared set's case was computed with global_step t + 1 at its step t.
            int globalStep = c.config().has("global_steps") ? c.config().get("global_steps").get(t).asInt() : t + 1;
            s.afterStep(globalStep + 1);
        }

        Map<String, Object> d = diagnostics(s);
        assertThat(d.get("budget")).isEqualTo(c.config().get("budget").asInt());
        assertThat(d.get("k")).isEqualTo(c.expected().get("k").asInt());
        c.assertClose("threshold", (Double) d.get("threshold"), c.expected().get("threshold").asDouble());
        for (String p : paths) {
            c.assertClose(p + " triplet_score", (NDArray) d.get(p + ".triplet_score"),
                    c.expected(m, p + ".triplet_score"));
            c.assertClose(p + " lora_E_masked", params.get(PeftKeys.inMemory(p, "lora_E", a.name(), null)),
                    c.expected(m, p + ".lora_E_masked"));
            for (String part : List.of("lora_A", "lora_E", "lora_B")) {
                for (String st : List.of("exp_avg_ipt", "exp_avg_unc")) {
                    String key = p + "." + part + "." + st;
                    if (c.expected().has(key)) {
                        c.assertClose(key, (NDArray) d.get(key), c.expected(m, key));
                    } else {
                        assertThat(d).as(key + ": reset by the final allocation, as in PEFT").doesNotContainKey(key);
                    }
                }
            }
        }
        Map<String, Object> json = AdapterConfigCodec.toPeftJson(adalora, a.instance().config(), null);
        Map<String, Object> expectedPattern = new LinkedHashMap<>();
        c.expected().get("rank_pattern_saved_in_config").fields().forEachRemaining(e -> {
            List<Boolean> v = new ArrayList<>();
            e.getValue().forEach(b -> v.add(b.asBoolean()));
            expectedPattern.put(e.getKey(), v);
        });
        assertThat(json.get("rank_pattern")).isEqualTo(expectedPattern);
        if (c.expected().has("kept_triplets")) {
            assertThat(s.currentRanks().values().stream().mapToInt(Integer::intValue).sum()).as("kept triplets")
                    .isEqualTo(c.expected().get("kept_triplets").asInt());
        }
        JsonNode savedExpected = c.expected().get("saved_state_dict");
        Map<String, NDArray> state = a.instance().stateDict();
        assertThat(state.keySet()).containsExactlyInAnyOrderElementsOf(GoldenCase.keys(savedExpected));
        for (String key : GoldenCase.keys(savedExpected)) {
            c.assertClose("saved " + key, state.get(key), GoldenCase.tensor(m, savedExpected.get(key)));
        }
    }

    /** The AdaLoRA part of {@code peft_state_dict_keys}: lora_A / lora_B / lora_E without {@code .weight}. */
    static void stateDictKeys(GoldenCase c, Adapter adalora, NDManager m) {
        List<String> paths = new ArrayList<>();
        c.config().get("target_module_paths").forEach(p -> paths.add(p.asText()));
        SingleLinearHost host = new SingleLinearHost(m);
        for (String p : paths) {
            host.add(p, m.randomNormal(new Shape(12, 16)), null);
        }
        AdapterConfig cfg = AdapterConfigCodec.parseLenient(adalora, Map.of("init_r", 4, "target_r", 2,
                "total_step", 10, "target_modules", paths), c.name());
        AttachedAdapter a = new PeftModel(host, n -> Optional.empty()).addAdapter("default", adalora, cfg, 0);
        List<String> expected = new ArrayList<>();
        c.expected().get("adalora").forEach(k -> expected.add(k.asText()));
        assertThat(a.instance().stateDict().keySet()).as(c.name() + ": adalora")
                .containsExactlyInAnyOrderElementsOf(expected);
        assertThat(AdapterConfigCodec.toPeftJson(adalora, cfg, null)).containsEntry("peft_type", "ADALORA");
    }

    /** The installed allocator with no options (the schedule comes from the adapter's config). */
    private static Configured.Allocator<?> allocator() {
        RankAllocator<?> r = InstalledGoldenTest.extensions().rankAllocator("adalora").orElseThrow(() ->
                new AssertionError("method adalora is installed but its rank allocator 'adalora' is not"));
        return Configured.allocator(r, Map.of(), "rank_allocator");
    }

    /** The plugin schedule's documented diagnostic view (see the class comment). */
    @SuppressWarnings("unchecked")
    private static Map<String, Object> diagnostics(RankAllocator.Schedule s) throws Exception {
        Method d = s.getClass().getMethod("diagnostics");
        return (Map<String, Object>) d.invoke(s);
    }

    /**
     * Gives each parameter {@code pg[0]} exactly the gradient {@code pg[1]}, as a trainer's backward would: zero the
     * old gradients, then backward of {@code sum(p ⊙ g)}. (A list, not a map: NDArray.equals compares contents.)
     */
    static void setGradients(List<NDArray[]> gradients) {
        for (NDArray[] pg : gradients) {
            if (!pg[0].hasGradient()) {
                pg[0].setRequiresGradient(true);
            } else {
                try (NDArray g = pg[0].getGradient()) {
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
}
