package io.peft4j.plugins.vera;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.AdapterInstance;
import io.peft4j.api.ConfigException;
import io.peft4j.api.LinearSiteModule;
import io.peft4j.api.ParamRole;
import io.peft4j.api.Parameter;
import io.peft4j.api.PeftKeys;
import io.peft4j.plugins.testkit.GoldenCase;
import io.peft4j.plugins.testkit.GoldenSuite;
import io.peft4j.plugins.testkit.ManagedTensorTest;
import io.peft4j.plugins.testkit.TestAdapterContext;
import io.peft4j.plugins.testkit.TestForwardContext;
import io.peft4j.plugins.testkit.TestLinearBase;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/** VeRA against the golden vectors (shared/golden/vera_*, peft_state_dict_keys), through the plugin's SPI. */
class VeraLayerTest extends ManagedTensorTest {
    static final String Q = "model.layers.0.self_attn.q_proj";
    /** A second, larger target so the shared projections are bigger than q_proj and must be sliced. */
    static final String K = "model.layers.0.self_attn.k_proj";

    static VeraConfig config(int r, boolean saveProjection, Object targets) {
        return new VeraConfig(r, targets, null, saveProjection, null, null, null, null, null, null, null, null, null,
                null);
    }

    private static AdapterInstance create(VeraConfig c, TestAdapterContext ctx) {
        c.validate();
        return new VeraAdapter().create("default", c, ctx.sites(), ctx);
    }

    private static void assertBitExact(String what, NDArray actual, NDArray expected) {
        assertThat(actual.getShape()).as(what).isEqualTo(expected.getShape());
        float[] a = actual.toFloatArray();
        float[] e = expected.toFloatArray();
        for (int i = 0; i < a.length; i++) {
            assertThat(Float.floatToRawIntBits(a[i])).as(what + " at flat index " + i + ": " + a[i] + " vs " + e[i])
                    .isEqualTo(Float.floatToRawIntBits(e[i]));
        }
    }

    /**
     * The golden cases META-INF/peft4j-golden/vera.properties claims, from every vector set; each handler below uses
     * the test's manager {@code m}, which lives until the whole factory has run. integration-tests runs the same
     * cases through the installed jar.
     */
    @TestFactory
    Stream<DynamicTest> golden() {
        return GoldenSuite.of("vera")
                .on("vera_projection_prng", (g, unused) -> projectionsReproduceTorchsGeneratorBitExactly(g))
                .on("vera_forward", (g, unused) -> forwardDeltaMergeAndUnmergeMatchGolden(g))
                .on("peft_state_dict_keys", (g, unused) -> savedKeysMatchPeft(g))
                .tests();
    }

    private void projectionsReproduceTorchsGeneratorBitExactly(GoldenCase g) {
        int r = g.config().get("r").asInt();
        int maxIn = g.config().get("max_in_features").asInt();
        int maxOut = g.config().get("max_out_features").asInt();
        assertThat(TorchCpuGenerator.kaimingBound(maxIn)).isEqualTo(g.config().get("bound_A").asDouble());
        assertThat(TorchCpuGenerator.kaimingBound(r)).isEqualTo(g.config().get("bound_B").asDouble());
        NDArray[] p = VeraAdapter.projections(m, g.config().get("projection_prng_key").asLong(), r, maxIn, maxOut);
        assertBitExact("vera_A", p[0], g.expected(m, "vera_A"));
        assertBitExact("vera_B", p[1], g.expected(m, "vera_B"));
    }

    @Test
    void freshAdapterIsIdentityAndDrawsPeftsProjectionsSizedOverAllTargets() {
        GoldenCase prng = GoldenCase.read("vera_projection_prng");
        TestLinearBase q = TestLinearBase.random(m, Q, 12, 16);
        TestLinearBase k = TestLinearBase.random(m, K, 14, 20);
        TestAdapterContext ctx = TestAdapterContext.overLayers(m, List.of(), q, k);
        VeraInstance inst = (VeraInstance) create(config(6, true, List.of("q_proj", "k_proj")), ctx);
        assertBitExact("vera_A", inst.veraA(), prng.expected(m, "vera_A"));
        assertBitExact("vera_B", inst.veraB(), prng.expected(m, "vera_B"));
        VeraLayer layer = inst.modules().get(Q);
        assertThat(layer.lambdaB().toFloatArray()).containsOnly(0f).hasSize(12);
        assertThat(layer.lambdaD().toFloatArray()).containsOnly(0.1f).hasSize(6);
        NDArray x = m.randomNormal(new Shape(3, 16));
        NDArray y = q.forward(x, List.of(layer), TestForwardContext.eval(m));
        assertThat(y.allClose(q.forward(x, List.of(), null), 0, 0, false)).isTrue();
    }

    /**
     * The case's layer plus a second one as large as the case's shared projections (vera_A [r, max_in], vera_B
     * [max_out, r]), so the adapter sizes its projections as the case's were.
     */
    private VeraLayer loaded(GoldenCase g, TestLinearBase q, boolean saveProjection) {
        TestLinearBase k = TestLinearBase.random(m, K, (int) g.inputShape("vera_B")[0],
                (int) g.inputShape("vera_A")[1]);
        TestAdapterContext ctx = TestAdapterContext.overLayers(m, List.of(), q, k);
        AdapterInstance inst = create(config(g.config().get("r").asInt(), saveProjection, List.of("q_proj", "k_proj")),
                ctx);
        Map<String, NDArray> saved = new HashMap<>(inst.stateDict());
        saved.put(PeftKeys.saved(Q, "vera_lambda_b"), g.input(m, "vera_lambda_b"));
        saved.put(PeftKeys.saved(Q, "vera_lambda_d"), g.input(m, "vera_lambda_d"));
        saved.put(VeraInstance.KEY_A, g.input(m, "vera_A"));
        saved.put(VeraInstance.KEY_B, g.input(m, "vera_B"));
        inst.loadStateDict(saved);
        return (VeraLayer) inst.modules().get(Q);
    }

    private void forwardDeltaMergeAndUnmergeMatchGolden(GoldenCase g) {
        TestLinearBase q = new TestLinearBase(Q, g.input(m, "weight"), g.input(m, "bias"));
        VeraLayer layer = loaded(g, q, true);
        NDArray x = g.input(m, "x");
        NDArray y = q.forward(x, List.of(layer), TestForwardContext.eval(m));
        g.assertClose("y", y, g.expected(m, "y"));
        g.assertClose("delta_weight", layer.deltaWeight(q).orElseThrow(), g.expected(m, "delta_weight"));

        NDArray w0 = q.rawWeight().duplicate();
        layer.merge(q);
        g.assertClose("merged forward", q.forward(x, List.of(), null), g.expected(m, "y"));
        layer.unmerge(q);
        g.assertClose("unmerged weight", q.rawWeight(), w0);
    }

    @Test
    void dropoutAppliesToTheAdapterInputOnly() {
        GoldenCase g = GoldenCase.read("vera_forward");
        TestLinearBase q = new TestLinearBase(Q, g.input(m, "weight"), g.input(m, "bias"));
        TestLinearBase k = TestLinearBase.random(m, K, 14, 20);
        TestAdapterContext ctx = TestAdapterContext.overLayers(m, List.of(), q, k);
        VeraConfig c = new VeraConfig(6, List.of("q_proj", "k_proj"), null, null, 0.5, null, null, null, null, null,
                null, null, null, null);
        AdapterInstance inst = create(c, ctx);
        Map<String, NDArray> saved = new HashMap<>(inst.stateDict());
        saved.put(PeftKeys.saved(Q, "vera_lambda_b"), g.input(m, "vera_lambda_b"));
        saved.put(PeftKeys.saved(Q, "vera_lambda_d"), g.input(m, "vera_lambda_d"));
        saved.put(VeraInstance.KEY_A, g.input(m, "vera_A"));
        saved.put(VeraInstance.KEY_B, g.input(m, "vera_B"));
        inst.loadStateDict(saved);
        LinearSiteModule layer = (LinearSiteModule) inst.modules().get(Q);
        NDArray x = g.input(m, "x");
        NDArray mask = m.randomUniform(0f, 1f, x.getShape()).gte(0.5f).toType(x.getDataType(), false);
        NDArray y = q.forward(x, List.of(layer), TestForwardContext.training(m, mask));
        // base(x) + lambda_b ⊙ ((lambda_d ⊙ (x_d A_s^T)) B_s^T) with x_d = 2·mask⊙x, i.e. x_d · ΔW^T.
        NDArray xd = x.mul(mask).mul(2f);
        NDArray expected = q.forward(x, List.of(), null).add(xd.matMul(g.expected(m, "delta_weight").transpose()));
        g.assertClose("y with dropout", y, expected);
    }

    @Test
    void savedWithoutProjectionsReloadsIdentically() {
        TestLinearBase q = TestLinearBase.random(m, Q, 12, 16);
        TestLinearBase k = TestLinearBase.random(m, K, 14, 20);
        VeraConfig c = config(8, false, List.of("q_proj", "k_proj"));
        AdapterInstance first = create(c, TestAdapterContext.overLayers(m, List.of(), q, k));
        // Train-like change of the vectors, then "save".
        first.modules().values().forEach(l -> ((VeraLayer) l).lambdaB().addi(0.5f));
        Map<String, NDArray> saved = first.stateDict();
        assertThat(saved).doesNotContainKeys(VeraInstance.KEY_A, VeraInstance.KEY_B);

        AdapterInstance second = create(c, TestAdapterContext.overLayers(m, List.of(), q, k));
        second.loadStateDict(saved);
        NDArray x = m.randomNormal(new Shape(2, 16));
        NDArray y1 = q.forward(x, List.of((VeraLayer) first.modules().get(Q)), TestForwardContext.eval(m));
        NDArray y2 = q.forward(x, List.of((VeraLayer) second.modules().get(Q)),
                TestForwardContext.eval(m));
        assertThat(y2.allClose(y1, 0, 0, false)).isTrue();
        assertThat(y1.allClose(q.forward(x, List.of(), null), 1e-4, 1e-4, false)).isFalse();
    }

    private void savedKeysMatchPeft(GoldenCase g) {
        List<TestLinearBase> layers = new ArrayList<>();
        g.config().get("target_module_paths").forEach(p -> layers.add(TestLinearBase.random(m, p.asText(), 12, 16)));
        TestAdapterContext ctx = TestAdapterContext.overLayers(m, List.of(), layers.toArray(new TestLinearBase[0]));
        for (boolean save : new boolean[] {true, false}) {
            AdapterInstance inst = create(config(4, save, List.of("q_proj", "v_proj")), ctx);
            List<String> expected = new ArrayList<>();
            g.expected().get("vera_save_projection_" + save).forEach(k -> expected.add(k.asText()));
            assertThat(inst.stateDict().keySet()).as("save_projection " + save)
                    .containsExactlyInAnyOrderElementsOf(expected);
        }
    }

    @Test
    void parametersAreTrainableVectorsAndFrozenProjections() {
        TestLinearBase q = TestLinearBase.random(m, Q, 12, 16);
        AdapterInstance inst = create(config(4, true, List.of("q_proj")),
                TestAdapterContext.overLayers(m, List.of(), q));
        assertThat(inst.parameters()).extracting(Parameter::name).containsExactly(
                "base_model.model." + Q + ".vera_lambda_b.default",
                "base_model.model." + Q + ".vera_lambda_d.default",
                "base_model.vera_A.default", "base_model.vera_B.default");
        assertThat(inst.parameters()).extracting(Parameter::role).containsExactly(
                ParamRole.VECTOR, ParamRole.VECTOR, ParamRole.FROZEN_STATE, ParamRole.FROZEN_STATE);
        assertThat(inst.parameters()).extracting(Parameter::trainable).containsExactly(true, true, false, false);
    }

    @Test
    void loadingMismatchedShapesNamesModuleAndShapes() {
        TestLinearBase q = TestLinearBase.random(m, Q, 12, 16);
        AdapterInstance inst = create(config(4, true, List.of("q_proj")),
                TestAdapterContext.overLayers(m, List.of(), q));
        Map<String, NDArray> saved = new HashMap<>(inst.stateDict());
        saved.put(PeftKeys.saved(Q, "vera_lambda_b"), m.zeros(new Shape(10)));
        assertThatThrownBy(() -> inst.loadStateDict(saved)).isInstanceOf(ConfigException.class)
                .hasMessageContaining(Q).hasMessageContaining("(10)").hasMessageContaining("(12)");
        saved.putAll(inst.stateDict());
        saved.put(VeraInstance.KEY_A, m.zeros(new Shape(4, 20)));
        assertThatThrownBy(() -> inst.loadStateDict(saved)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("base_model.vera_A").hasMessageContaining("(4, 20)")
                .hasMessageContaining("(4, 16)");
    }

    @Test
    void configDefaultsAndRulesFollowPeft() {
        VeraConfig c = VeraConfig.of(256, null);
        assertThat(c.projectionPrngKey()).isZero();
        assertThat(c.saveProjection()).isTrue();
        assertThat(c.dInitial()).isEqualTo(0.1);
        assertThat(c.initWeights()).isTrue();
        assertThat(new VeraAdapter().peftType()).isEqualTo("VERA");
        assertThat(new VeraAdapter().readsPeftConfig(Map.of("peft_type", "VERA"))).isTrue();
        assertThatThrownBy(() -> VeraConfig.of(0, null).validate()).isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("r:");
        assertThatThrownBy(() -> new VeraConfig(4, null, null, null, 1.0, null, null, null, null, null, null, null,
                null, null).validate()).hasMessageStartingWith("vera_dropout:");
        assertThatThrownBy(() -> new VeraConfig(4, null, null, null, null, Double.NaN, null, null, null, null, null,
                null, null, null).validate()).hasMessageStartingWith("d_initial:");
        assertThatThrownBy(() -> new VeraConfig(4, null, null, null, null, null, null, "lora_only", null, null, null,
                null, null, null).validate()).hasMessageStartingWith("bias:");
    }
}
