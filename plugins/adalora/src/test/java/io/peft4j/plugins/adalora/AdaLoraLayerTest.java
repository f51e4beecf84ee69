package io.peft4j.plugins.adalora;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import io.peft4j.api.AdapterInstance;
import io.peft4j.api.ForwardContext;
import io.peft4j.api.ParamRole;
import io.peft4j.api.Parameter;
import io.peft4j.api.PeftKeys;
import io.peft4j.plugins.testkit.GoldenCase;
import io.peft4j.plugins.testkit.ManagedTensorTest;
import io.peft4j.plugins.testkit.TestAdapterContext;
import io.peft4j.plugins.testkit.TestForwardContext;
import io.peft4j.plugins.testkit.TestLinearBase;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** AdaLoRA forward, delta, merge and orthogonal regulariser against golden vectors, through the plugin's SPI. */
class AdaLoraLayerTest extends ManagedTensorTest {
    static final String PATH = "model.layers.0.self_attn.q_proj";

    static AdaLoraConfig config(int initR, double alpha, List<String> targets) {
        return new AdaLoraConfig(initR, Math.min(2, initR), null, null, null, null, null, null, 10, null, alpha, null,
                targets, null, null, null, null, null, null, null, null, null, null);
    }

    private AdapterInstance create(AdaLoraConfig c, TestLinearBase... layers) {
        c.validate();
        TestAdapterContext ctx = TestAdapterContext.overLayers(m, List.of(), layers);
        AdaLoraAdapter adapter = new AdaLoraAdapter();
        adapter.validate(c, ctx.sites(), ctx.modelShape());
        return adapter.create("default", c, ctx.sites(), ctx);
    }

    @Test
    void forwardAndDeltaMatchGolden() {
        GoldenCase g = GoldenCase.read("adalora_forward");
        TestLinearBase base = new TestLinearBase(PATH, g.input(m, "weight"), g.input(m, "bias"));
        AdapterInstance inst = create(config(g.config().get("init_r").asInt(), g.config().get("lora_alpha").asDouble(),
                List.of("q_proj")), base);
        Map<String, NDArray> saved = new HashMap<>();
        saved.put(PeftKeys.saved(PATH, "lora_A"), g.input(m, "lora_A"));
        saved.put(PeftKeys.saved(PATH, "lora_E"), g.input(m, "lora_E"));
        saved.put(PeftKeys.saved(PATH, "lora_B"), g.input(m, "lora_B"));
        assertThat(inst.loadStateDict(saved)).isEqualTo(saved.keySet());
        AdaLoraLayer layer = (AdaLoraLayer) inst.modules().get(PATH);
        assertThat(layer.scaling()).isEqualTo((float) g.config().get("scaling").asDouble());
        assertThat(layer.ranknum()).isEqualTo((float) g.config().get("ranknum").asDouble());

        NDArray y = base.forward(g.input(m, "x"), List.of(layer), TestForwardContext.eval(m));
        g.assertClose("y", y, g.expected(m, "y"));
        g.assertClose("delta_weight", layer.deltaWeight(base).orElseThrow(), g.expected(m, "delta_weight"));

        NDArray w0 = base.rawWeight().duplicate();
        layer.merge(base);
        g.assertClose("merged weight", base.rawWeight(), w0.add(g.expected(m, "delta_weight")));
        NDArray yMerged = base.forward(g.input(m, "x"), List.of(), TestForwardContext.eval(m));
        g.assertClose("y after merge", yMerged, g.expected(m, "y"));
        layer.unmerge(base);
        assertThat(base.rawWeight().sub(w0).abs().max().getFloat()).isLessThan(1e-6f);
    }

    @Test
    void defaultInitIsZeroEAndSmallGaussianFactors() {
        TestLinearBase base = TestLinearBase.random(m, PATH, 48, 64);
        AdapterInstance inst = create(config(12, 8, List.of("q_proj")), base);
        AdaLoraLayer l = (AdaLoraLayer) inst.modules().get(PATH);
        assertThat(l.loraA().getShape().getShape()).containsExactly(12, 64);
        assertThat(l.loraE().getShape().getShape()).containsExactly(12, 1);
        assertThat(l.loraB().getShape().getShape()).containsExactly(48, 12);
        assertThat(l.loraE().abs().sum().getFloat()).isZero();
        double stdA = Math.sqrt(l.loraA().square().mean().getFloat());
        double stdB = Math.sqrt(l.loraB().square().mean().getFloat());
        assertThat(stdA).isBetween(0.015, 0.025);
        assertThat(stdB).isBetween(0.015, 0.025);
        // E = 0: the adapter starts as the identity.
        NDArray x = m.randomNormal(new ai.djl.ndarray.types.Shape(3, 64));
        NDArray plain = base.forward(x, List.of(), TestForwardContext.eval(m));
        NDArray adapted = base.forward(x, List.of(l), TestForwardContext.eval(m));
        assertThat(adapted.sub(plain).abs().max().getFloat()).isZero();
        assertThat(inst.parameters()).extracting(Parameter::name).containsExactly(
                PeftKeys.inMemory(PATH, "lora_A", "default", null), PeftKeys.inMemory(PATH, "lora_E", "default", null),
                PeftKeys.inMemory(PATH, "lora_B", "default", null));
        assertThat(inst.parameters()).extracting(Parameter::role)
                .containsExactly(ParamRole.DOWN, ParamRole.RANK_SCALE, ParamRole.UP);
        assertThat(inst.stateDict()).containsOnlyKeys(PeftKeys.saved(PATH, "lora_A"), PeftKeys.saved(PATH, "lora_E"),
                PeftKeys.saved(PATH, "lora_B"));
    }

    @Test
    void orthogonalRegulariserMatchesGoldenInTrainingOnly() {
        GoldenCase g = GoldenCase.read("adalora_orth_reg");
        String p0 = "model.layers.0.self_attn.q_proj";
        String p1 = "model.layers.0.self_attn.v_proj";
        NDArray a0 = g.input(m, "layer0_lora_A");
        NDArray b0 = g.input(m, "layer0_lora_B");
        int r = (int) a0.getShape().get(0);
        TestLinearBase l0 = TestLinearBase.random(m, p0, (int) b0.getShape().get(0), (int) a0.getShape().get(1));
        TestLinearBase l1 = TestLinearBase.random(m, p1, (int) b0.getShape().get(0), (int) a0.getShape().get(1));
        AdaLoraConfig base = config(r, 8, List.of("q_proj", "v_proj"));
        AdaLoraConfig c = new AdaLoraConfig(base.initR(), base.targetR(), null, null, null, null, null,
                g.config().get("orth_reg_weight").asDouble(), 10, null, null, null, List.of("q_proj", "v_proj"), null,
                null, null, null, null, null, null, null, null, null);
        AdapterInstance inst = create(c, l0, l1);
        Map<String, NDArray> saved = new HashMap<>();
        saved.put(PeftKeys.saved(p0, "lora_A"), a0);
        saved.put(PeftKeys.saved(p0, "lora_B"), b0);
        saved.put(PeftKeys.saved(p0, "lora_E"), m.ones(new ai.djl.ndarray.types.Shape(r, 1)));
        saved.put(PeftKeys.saved(p1, "lora_A"), g.input(m, "layer1_lora_A"));
        saved.put(PeftKeys.saved(p1, "lora_B"), g.input(m, "layer1_lora_B"));
        saved.put(PeftKeys.saved(p1, "lora_E"), m.ones(new ai.djl.ndarray.types.Shape(r, 1)));
        inst.loadStateDict(saved);

        ForwardContext train = TestForwardContext.training(m, null);
        Optional<NDArray> loss = inst.auxiliaryLoss(train);
        assertThat(loss).isPresent();
        double added = g.expected().get("added_loss").asDouble();
        double regu = g.expected().get("regu_loss").asDouble();
        assertThat(Math.abs(loss.get().getFloat() - added)).isLessThanOrEqualTo(g.atol() + g.rtol() * added);
        assertThat(Math.abs(loss.get().getFloat() / c.orthRegWeight() - regu)).isLessThanOrEqualTo(
                g.atol() + g.rtol() * regu);
        assertThat(inst.auxiliaryLoss(TestForwardContext.eval(m))).isEmpty();
    }
}
