package io.peft4j.plugins.bottleneck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.AdapterInstance;
import io.peft4j.api.ConfigException;
import io.peft4j.api.ModelShape;
import io.peft4j.api.ParamRole;
import io.peft4j.api.Parameter;
import io.peft4j.api.SiteInfo;
import io.peft4j.api.SiteKind;
import io.peft4j.api.SublayerSiteModule;
import io.peft4j.plugins.testkit.ManagedTensorTest;
import io.peft4j.plugins.testkit.TestAdapterContext;
import io.peft4j.plugins.testkit.TestForwardContext;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class BottleneckTest extends ManagedTensorTest {
    static final ModelShape SHAPE = new ModelShape(8, 2, 2, 1, 4, 16, 32);
    final BottleneckAdapter method = new BottleneckAdapter();

    static List<SiteInfo> sites() {
        return List.of(new SiteInfo("model.layers.0.self_attn", SiteKind.SUBLAYER_OUTPUT, 8, 8, 0, false),
                new SiteInfo("model.layers.0.mlp", SiteKind.SUBLAYER_OUTPUT, 8, 8, 0, false),
                new SiteInfo("model.layers.1.self_attn", SiteKind.SUBLAYER_OUTPUT, 8, 8, 1, false),
                new SiteInfo("model.layers.1.mlp", SiteKind.SUBLAYER_OUTPUT, 8, 8, 1, false));
    }

    static List<SiteInfo> selected(BottleneckConfig c) {
        Pattern p = Pattern.compile(c.targetSpec().regex());
        return sites().stream().filter(s -> p.matcher(s.path()).matches()).toList();
    }

    @Test
    void placementSelectsSubLayersPfeifferByDefault() {
        BottleneckConfig pfeiffer = BottleneckConfig.of(null, null);
        pfeiffer.validate();
        assertThat(selected(pfeiffer)).extracting(SiteInfo::path)
                .containsExactly("model.layers.0.mlp", "model.layers.1.mlp");
        BottleneckConfig houlsby = BottleneckConfig.of(List.of("attention", "mlp"), null);
        assertThat(selected(houlsby)).hasSize(4);
        assertThat(pfeiffer.width(64)).isEqualTo(4);   // reduction factor 16
        assertThat(BottleneckConfig.of(null, 5).width(64)).isEqualTo(5);
    }

    @Test
    void unknownPlacementNamesTheFieldAndTheValidOnes() {
        BottleneckConfig c = BottleneckConfig.of(List.of("cross_attention"), null);
        assertThatThrownBy(c::validate).isInstanceOf(ConfigException.class)
                .hasMessageContaining("adapter_placement").hasMessageContaining("cross_attention")
                .hasMessageContaining("[attention, mlp]");
        assertThatThrownBy(() -> method.validate(BottleneckConfig.of(List.of("attention"), null),
                selected(BottleneckConfig.of(List.of("mlp"), null)), SHAPE))
                .isInstanceOf(ConfigException.class).hasMessageContaining("adapter_placement");
        assertThatThrownBy(() -> method.validate(BottleneckConfig.of(null, 9), sites(), SHAPE))
                .hasMessageContaining("bottleneck_size");
        assertThatThrownBy(() -> new BottleneckConfig(null, null, null, "tanh", null, null, null, null, null)
                .validate()).hasMessageContaining("non_linearity");
    }

    @Test
    void freshAdapterIsTheIdentityAndTheMathIsHoulsbys() {
        BottleneckConfig c = new BottleneckConfig(List.of("mlp"), null, 2, "relu", null, 0.5, null, null, null);
        AdapterInstance inst = method.create("default", c, selected(c),
                new TestAdapterContext(m).withModelShape(SHAPE));
        BottleneckModule mod = (BottleneckModule) inst.modules().get("model.layers.0.mlp");
        NDArray f = m.randomNormal(new Shape(2, 3, 8));
        NDArray in = m.randomNormal(new Shape(2, 3, 8));
        assertThat(((SublayerSiteModule) mod).forward(f, in, TestForwardContext.eval(m)).toFloatArray())
                .containsExactly(f.toFloatArray());

        // Known weights: f' = f + s * (Wu relu(Wd f + bd) + bu), checked in plain Java.
        float[] wd = new float[16];
        float[] wu = new float[16];
        for (int i = 0; i < 16; i++) {
            wd[i] = (i % 5 - 2) * 0.3f;
            wu[i] = (i % 3 - 1) * 0.7f;
        }
        float[] bd = {0.1f, -0.2f};
        float[] bu = new float[8];
        for (int i = 0; i < 8; i++) {
            bu[i] = 0.05f * i;
        }
        BottleneckModule.copyInto(mod.downWeight(), m.create(wd, new Shape(2, 8)));
        BottleneckModule.copyInto(mod.downBias(), m.create(bd));
        BottleneckModule.copyInto(mod.upWeight(), m.create(wu, new Shape(8, 2)));
        BottleneckModule.copyInto(mod.upBias(), m.create(bu));
        float[] x = f.toFloatArray();
        float[] got = mod.forward(f, in, TestForwardContext.eval(m)).toFloatArray();
        for (int t = 0; t < 6; t++) {
            float[] h = new float[2];
            for (int j = 0; j < 2; j++) {
                float s = bd[j];
                for (int k = 0; k < 8; k++) {
                    s += wd[j * 8 + k] * x[t * 8 + k];
                }
                h[j] = Math.max(0f, s);
            }
            for (int o = 0; o < 8; o++) {
                float u = bu[o] + wu[o * 2] * h[0] + wu[o * 2 + 1] * h[1];
                assertThat((double) got[t * 8 + o]).isCloseTo(x[t * 8 + o] + 0.5 * u, within(1e-5));
            }
        }
    }

    @Test
    void parametersAndSavedKeys() {
        BottleneckConfig c = BottleneckConfig.of(List.of("attention", "mlp"), null);
        AdapterInstance inst = method.create("ad", c, selected(c), new TestAdapterContext(m).withModelShape(SHAPE));
        assertThat(inst.parameters()).hasSize(16).allMatch(Parameter::trainable);
        assertThat(inst.parameters()).extracting(Parameter::role).containsOnly(ParamRole.DENSE, ParamRole.BIAS);
        assertThat(inst.parameters().get(0).name())
                .isEqualTo("base_model.model.model.layers.0.self_attn.adapter_down.ad.weight");
        Map<String, NDArray> sd = inst.stateDict();
        assertThat(sd).containsKeys("base_model.model.model.layers.1.mlp.adapter_down.weight",
                "base_model.model.model.layers.1.mlp.adapter_down.bias",
                "base_model.model.model.layers.1.mlp.adapter_up.weight",
                "base_model.model.model.layers.1.mlp.adapter_up.bias");
        assertThat(sd.get("base_model.model.model.layers.1.mlp.adapter_down.weight").getShape())
                .isEqualTo(new Shape(1, 8));   // 8 / 16 rounds to at least 1
        Map<String, NDArray> bad = new java.util.HashMap<>(sd);
        bad.put("base_model.model.model.layers.1.mlp.adapter_up.weight", m.zeros(new Shape(8, 3)));
        assertThatThrownBy(() -> inst.loadStateDict(bad)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("adapter_up.weight").hasMessageContaining("(8, 3)");
    }
}
