package io.peft4j.plugins.dora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import io.peft4j.api.AdapterContext;
import io.peft4j.api.AdapterInstance;
import io.peft4j.api.ConfigException;
import io.peft4j.api.Initializer;
import io.peft4j.api.LinearBase;
import io.peft4j.api.LowRankSite;
import io.peft4j.api.ParamRole;
import io.peft4j.api.Parameter;
import io.peft4j.api.PeftKeys;
import io.peft4j.plugins.testkit.GoldenCase;
import io.peft4j.plugins.testkit.GoldenClaims;
import io.peft4j.plugins.testkit.GoldenLinearChecks;
import io.peft4j.plugins.testkit.GoldenSuite;
import io.peft4j.plugins.testkit.ManagedTensorTest;
import io.peft4j.plugins.testkit.TestAdapterContext;
import io.peft4j.plugins.testkit.TestForwardContext;
import io.peft4j.plugins.testkit.TestLinearBase;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/** DoRA against the golden vectors (shared/golden/dora_*), through the plugin's SPI. */
class DoraLayerTest extends ManagedTensorTest {
    static final String PATH = "model.layers.0.self_attn.q_proj";

    static DoraConfig config(int r, double alpha, double dropout, Object init) {
        return new DoraConfig(r, alpha, dropout, null, null, null, List.of("q_proj"), null, init, null, null, null,
                null, null, null, null, null, null);
    }

    private DoraLayer create(GoldenCase g, TestLinearBase base, Object init, List<Initializer> inits) {
        DoraConfig c = config(g.config().get("r").asInt(), g.config().get("lora_alpha").asDouble(),
                g.config().path("lora_dropout").asDouble(0), init);
        c.validate();
        TestAdapterContext ctx = TestAdapterContext.overLayers(m, inits, base);
        AdapterInstance inst = new DoraAdapter().create("default", c, ctx.sites(), ctx);
        return (DoraLayer) inst.modules().get(PATH);
    }

    /** Creates the adapter on the case's layer and loads the case's A, B and magnitude under PEFT's saved keys. */
    private DoraLayer loaded(GoldenCase g, TestLinearBase base) {
        DoraConfig c = config(g.config().get("r").asInt(), g.config().get("lora_alpha").asDouble(),
                g.config().path("lora_dropout").asDouble(0), true);
        TestAdapterContext ctx = TestAdapterContext.overLayers(m, List.of(), base);
        AdapterInstance inst = new DoraAdapter().create("default", c, ctx.sites(), ctx);
        Map<String, NDArray> saved = new HashMap<>();
        saved.put(PeftKeys.saved(PATH, "lora_A.weight"), g.input(m, "lora_A"));
        saved.put(PeftKeys.saved(PATH, "lora_B.weight"), g.input(m, "lora_B"));
        saved.put(PeftKeys.saved(PATH, "lora_magnitude_vector"), g.input(m, "magnitude"));
        assertThat(inst.loadStateDict(saved)).isEqualTo(saved.keySet());
        return (DoraLayer) inst.modules().get(PATH);
    }

    private TestLinearBase baseOf(GoldenCase g) {
        return new TestLinearBase(PATH, g.input(m, "weight"), g.inputs().has("bias") ? g.input(m, "bias") : null);
    }

    /** An initializer that installs given factors, optionally leaving the PiSSA-style residual W - s·BA in the base. */
    private static Initializer fixedFactors(NDArray a, NDArray b, boolean writeResidual) {
        return new Initializer() {
            @Override
            public String id() {
                return "fixed";
            }

            @Override
            public String description() {
                return "test: installs given factors";
            }

            @Override
            public boolean handles(String initName) {
                return initName.equals("fixed");
            }

            @Override
            public void initialize(String initName, LowRankSite site, LinearBase base, AdapterContext ctx) {
                site.setFactors(a, b);
                if (writeResidual) {
                    base.setWeight(base.withWeight(w -> w.sub(b.matMul(a).mul(site.scaling()))));
                }
            }
        };
    }

    /**
     * DoRA's golden cases as its descriptor (META-INF/peft4j-golden/dora.properties) claims them, every vector set:
     * forward through the testkit's linear handler, init and merge below; integration-tests runs the same cases
     * through the installed jar.
     */
    @TestFactory
    Stream<DynamicTest> golden() {
        DoraAdapter dora = new DoraAdapter();
        return GoldenSuite.of("dora")
                .on("dora_forward", GoldenLinearChecks.forward(dora, GoldenClaims.ofPlugin("dora")))
                .on("dora_init_magnitude", (g, unused) -> initMagnitudeIsRowNormOfWeightPlusScaledDelta(g))
                .on("dora_merge", (g, unused) -> mergeMatchesGoldenAndUnmergeRestores(g))
                .on("peft_state_dict_keys", GoldenLinearChecks.stateDictKeys(dora, "dora", Map.of("r", 4)))
                .tests();
    }

    /** Tensors go to the test's manager {@code m}, which lives until the whole factory has run. */
    private void initMagnitudeIsRowNormOfWeightPlusScaledDelta(GoldenCase g) {
        DoraLayer zeroB = create(g, baseOf(g), true, List.of());
        g.assertClose("magnitude_when_B_zero", zeroB.magnitude(), g.expected(m, "magnitude_when_B_zero"));

        NDArray a = g.input(m, "lora_A");
        NDArray b = g.input(m, "lora_B");
        DoraLayer given = create(g, baseOf(g), "fixed", List.of(fixedFactors(a, b, false)));
        assertThat(given.scaling()).isEqualTo((float) g.config().get("scaling").asDouble());
        g.assertClose("magnitude", given.magnitude(), g.expected(m, "magnitude"));
    }

    @Test
    void magnitudeIsComputedAfterAnInitializerRewroteTheBase() {
        GoldenCase g = GoldenCase.read("dora_init_magnitude");
        TestLinearBase base = baseOf(g);
        DoraLayer layer = create(g, base, "fixed",
                List.of(fixedFactors(g.input(m, "lora_A"), g.input(m, "lora_B"), true)));
        // W_res + s·BA == W, so the magnitude is the row norm of the original weight.
        g.assertClose("magnitude after residual init", layer.magnitude(), g.expected(m, "magnitude_when_B_zero"));
        assertThat(base.rawWeight().allClose(g.input(m, "weight"), 1e-5, 1e-5, false)).isFalse();
    }

    private void mergeMatchesGoldenAndUnmergeRestores(GoldenCase g) {
        TestLinearBase base = baseOf(g);
        DoraLayer layer = loaded(g, base);
        NDArray w0 = base.rawWeight().duplicate();
        NDArray b0 = base.bias().orElseThrow().duplicate();
        NDArray x = m.randomNormal(new Shape(3, w0.getShape().get(1)));
        NDArray yAdapter = base.forward(x, List.of(layer), TestForwardContext.eval(m));
        NDArray delta = layer.deltaWeight(base).orElseThrow();

        layer.merge(base);
        assertThat(layer.merged()).isTrue();
        g.assertClose("merged_weight", base.rawWeight(), g.expected(m, "merged_weight"));
        g.assertClose("merged_bias", base.bias().orElseThrow(), g.expected(m, "merged_bias"));
        // Merged base alone computes what base + adapter computed.
        g.assertClose("merged forward", base.forward(x, List.of(), null), yAdapter);
        // deltaWeight is the effective difference and is the same while merged.
        g.assertClose("delta (unmerged)", delta, g.expected(m, "merged_weight").sub(w0));
        g.assertClose("delta (merged)", layer.deltaWeight(base).orElseThrow(), delta);

        layer.unmerge(base);
        assertThat(layer.merged()).isFalse();
        g.assertClose("unmerged weight", base.rawWeight(), w0);
        g.assertClose("unmerged bias", base.bias().orElseThrow(), b0);
        assertThatThrownBy(() -> layer.unmerge(base)).isInstanceOf(IllegalStateException.class);
    }

    /**
     * On a quantized base every weight DoRA reads is a dequantized copy: creation (the magnitude), forward,
     * deltaWeight, merge and unmerge must each free theirs (the testkit's stand-in is lossless, so the golden
     * values still hold).
     */
    @Test
    void onAQuantizedBaseEveryDequantizedCopyIsFreed() {
        GoldenCase g = GoldenCase.read("dora_merge");
        TestLinearBase base = TestLinearBase.quantized(PATH, g.input(m, "weight"), g.input(m, "bias"));
        DoraLayer layer = loaded(g, base);
        NDArray x = m.randomNormal(new Shape(3, base.site().inFeatures()));
        NDArray yAdapter = base.forward(x, List.of(layer), TestForwardContext.eval(m));
        layer.deltaWeight(base).orElseThrow();
        layer.merge(base);
        g.assertClose("merged_weight", base.rawWeight(), g.expected(m, "merged_weight"));
        g.assertClose("merged forward", base.forward(x, List.of(), null), yAdapter);
        layer.unmerge(base);

        assertThat(base.leasedCopies()).hasSizeGreaterThanOrEqualTo(4);   // magnitude, delta, merge, unmerge
        assertThat(base.leasedCopies()).allSatisfy(c -> assertThat(c.isReleased()).isTrue());
        assertThat(base.openLeases()).isZero();
        assertThat(base.rawWeight().isReleased()).isFalse();
    }

    /**
     * With loss L = Σ R ⊙ y and n = ||W + s·BA||_row treated as a constant, g = m/n:
     * dL/dA = s · Bᵀ (R⊙g)ᵀ x,  dL/dB = s · (R⊙g)ᵀ (x Aᵀ),  dL/dm = Σ_batch R ⊙ (x Wᵀ + s·x Aᵀ Bᵀ) / n.
     * A gradient through the norm would add further terms to all three.
     */
    @Test
    void normIsDetachedFromTheGradient() {
        GoldenCase g = GoldenCase.read("dora_forward_eval");
        TestLinearBase base = baseOf(g);
        DoraLayer layer = loaded(g, base);
        NDArray x = g.input(m, "x");
        NDArray w = base.rawWeight();
        NDArray a = layer.loraA();
        NDArray b = layer.loraB();
        NDArray mag = layer.magnitude();
        float s = layer.scaling();
        NDArray r = m.randomNormal(new Shape(x.getShape().get(0), w.getShape().get(0)));
        for (NDArray p : List.of(a, b, mag)) {
            p.setRequiresGradient(true);
        }
        try (NDManager step = m.newSubManager();
             GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            NDArray y = base.forward(x, List.of(layer), TestForwardContext.training(step, null));
            gc.backward(y.mul(r).sum());
        }
        NDArray n = w.add(b.matMul(a).mul(s)).norm(new int[] {1});
        NDArray rg = r.mul(mag.div(n));                                   // [batch, out]
        NDArray expA = b.transpose().matMul(rg.transpose()).matMul(x).mul(s);
        NDArray expB = rg.transpose().matMul(x.matMul(a.transpose())).mul(s);
        NDArray expM = r.mul(x.matMul(w.transpose()).add(x.matMul(a.transpose()).matMul(b.transpose()).mul(s)))
                .sum(new int[] {0}).div(n);
        g.assertClose("dL/dA", a.getGradient(), expA);
        g.assertClose("dL/dB", b.getGradient(), expB);
        g.assertClose("dL/dm", mag.getGradient(), expM);
    }

    @Test
    void parametersAndSavedKeysFollowPeft() {
        TestLinearBase q = TestLinearBase.random(m, "model.layers.0.self_attn.q_proj", 12, 16);
        TestLinearBase v = TestLinearBase.random(m, "model.layers.0.self_attn.v_proj", 12, 16);
        TestAdapterContext ctx = TestAdapterContext.overLayers(m, List.of(), q, v);
        DoraConfig c = new DoraConfig(4, 8.0, null, null, null, null, List.of("q_proj", "v_proj"), null, null, null,
                null, null, null, null, null, null, null, null);
        AdapterInstance inst = new DoraAdapter().create("default", c, ctx.sites(), ctx);
        assertThat(inst.stateDict().keySet()).containsExactly(
                "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
                "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight",
                "base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector",
                "base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight",
                "base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight",
                "base_model.model.model.layers.0.self_attn.v_proj.lora_magnitude_vector");
        Parameter mag = inst.parameters().stream().filter(p -> p.role() == ParamRole.MAGNITUDE).findFirst()
                .orElseThrow();
        assertThat(mag.name()).isEqualTo("base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector"
                + ".default.weight");
        assertThat(mag.trainable()).isTrue();
        assertThat(inst.parameters()).extracting(Parameter::role)
                .containsExactly(ParamRole.DOWN, ParamRole.UP, ParamRole.MAGNITUDE,
                        ParamRole.DOWN, ParamRole.UP, ParamRole.MAGNITUDE);
    }

    @Test
    void loadingATensorOfTheWrongShapeNamesModuleAndShapes() {
        TestLinearBase q = TestLinearBase.random(m, PATH, 12, 16);
        TestAdapterContext ctx = TestAdapterContext.overLayers(m, List.of(), q);
        AdapterInstance inst = new DoraAdapter().create("default", config(4, 8, 0, true), ctx.sites(), ctx);
        Map<String, NDArray> saved = new HashMap<>(inst.stateDict());
        saved.put(PeftKeys.saved(PATH, "lora_magnitude_vector"), m.zeros(new Shape(10)));
        assertThatThrownBy(() -> inst.loadStateDict(saved))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining(PATH).hasMessageContaining("(10)").hasMessageContaining("(12)");
        saved.remove(PeftKeys.saved(PATH, "lora_magnitude_vector"));
        assertThatThrownBy(() -> inst.loadStateDict(saved)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("lora_magnitude_vector").hasMessageContaining("missing");
    }

    @Test
    void configRulesFollowPeft() {
        assertThatThrownBy(() -> new DoraConfig(4, null, null, null, null, true, null, null, null, null, null, null,
                null, null, null, null, null, null).validate())
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("lora_bias:");
        assertThatThrownBy(() -> new DoraConfig(4, null, null, null, null, null, null, null, null, null, null, false,
                null, null, null, null, null, null).validate())
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("use_dora:");
        assertThat(DoraConfig.of(8, 16, null).useDora()).isTrue();
        DoraAdapter a = new DoraAdapter();
        assertThat(a.peftType()).isEqualTo("LORA");
        assertThat(a.readsPeftConfig(Map.of("peft_type", "LORA", "use_dora", true))).isTrue();
        assertThat(a.readsPeftConfig(Map.of("peft_type", "LORA", "use_dora", false))).isFalse();
        assertThat(a.readsPeftConfig(Map.of("peft_type", "LORA"))).isFalse();
        assertThat(a.readsPeftConfig(Map.of("peft_type", "VERA", "use_dora", true))).isFalse();
    }
}
