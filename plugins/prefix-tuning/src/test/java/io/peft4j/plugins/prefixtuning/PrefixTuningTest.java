package io.peft4j.plugins.prefixtuning;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.AdapterInstance;
import io.peft4j.api.AttentionKvSiteModule;
import io.peft4j.api.ConfigException;
import io.peft4j.api.ModelShape;
import io.peft4j.api.Parameter;
import io.peft4j.api.SiteInfo;
import io.peft4j.api.SiteKind;
import io.peft4j.plugins.testkit.ManagedTensorTest;
import io.peft4j.plugins.testkit.TestAdapterContext;
import io.peft4j.plugins.testkit.TestForwardContext;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PrefixTuningTest extends ManagedTensorTest {
    // stories260K's shape: hidden 64, 5 layers, 8 query heads, 4 key/value heads of dim 8, context 512.
    static final ModelShape SHAPE = new ModelShape(64, 5, 8, 4, 8, 512, 512);
    final PrefixTuningAdapter method = new PrefixTuningAdapter();

    static List<SiteInfo> sites() {
        List<SiteInfo> out = new ArrayList<>();
        for (int l = 0; l < 5; l++) {
            out.add(new SiteInfo("model.layers." + l + ".self_attn", SiteKind.ATTENTION_KV, 64, 32, l, false));
        }
        return out;
    }

    @Test
    void derivedFieldsFollowPeftForGroupedQueryAttention() {
        PrefixTuningConfig c = PrefixTuningConfig.of(6, false).completed(SHAPE);
        // token_dim = hidden / heads * kv_heads = 64 / 8 * 4; heads become the kv heads.
        assertThat(c.tokenDim()).isEqualTo(32);
        assertThat(c.numAttentionHeads()).isEqualTo(4);
        assertThat(c.numLayers()).isEqualTo(5);
        assertThat(c.encoderHiddenSize()).isEqualTo(32);
        assertThat(c.completed(SHAPE)).as("a saved config reloads to the same values").isEqualTo(c);
        PrefixTuningConfig wrong = new PrefixTuningConfig(6, 48, null, null, null, null, null, null, null, null);
        assertThatThrownBy(() -> method.validate(wrong, sites(), SHAPE)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("token_dim");
        assertThatThrownBy(() -> PrefixTuningConfig.of(0, false).validate())
                .hasMessageContaining("num_virtual_tokens");
        assertThatThrownBy(() -> method.validate(PrefixTuningConfig.of(512, false), sites(), SHAPE))
                .hasMessageContaining("max_position_embeddings");
    }

    @Test
    void layerKeysAndValuesFollowPeftsViewPermuteSplit() {
        int p = 3;
        AdapterInstance inst = method.create("default", PrefixTuningConfig.of(p, false), sites(),
                new TestAdapterContext(m).withModelShape(SHAPE));
        int width = 5 * 2 * 32;
        float[] t = new float[p * width];
        for (int i = 0; i < p; i++) {
            for (int j = 0; j < width; j++) {
                t[i * width + j] = i * 1000 + j;
            }
        }
        inst.loadStateDict(Map.of("prompt_embeddings", m.create(t, new Shape(p, width))));
        for (int l = 0; l < 5; l++) {
            AttentionKvSiteModule mod = (AttentionKvSiteModule) inst.modules().get("model.layers." + l + ".self_attn");
            NDList kv = mod.prefixKeyValues(2, TestForwardContext.eval(m));
            assertThat(kv.get(0).getShape()).isEqualTo(new Shape(2, 4, p, 8));
            float[] k = kv.get(0).toFloatArray();
            float[] v = kv.get(1).toFloatArray();
            for (int b = 0; b < 2; b++) {
                for (int g = 0; g < 4; g++) {
                    for (int i = 0; i < p; i++) {
                        for (int d = 0; d < 8; d++) {
                            int at = ((b * 4 + g) * p + i) * 8 + d;
                            // view [B, P, L*2, kv_heads, head_dim] -> permute [2, 0, 3, 1, 4] -> chunk l = (2l, 2l+1)
                            assertThat(k[at]).isEqualTo(i * 1000 + (2 * l) * 32 + g * 8 + d);
                            assertThat(v[at]).isEqualTo(i * 1000 + (2 * l + 1) * 32 + g * 8 + d);
                        }
                    }
                }
            }
        }
    }

    @Test
    void projectionIsFoldedIntoTheSavedTable() {
        int p = 2;
        AdapterInstance inst = method.create("default", new PrefixTuningConfig(p, null, null, null, null, 5, true,
                null, null, null), sites(), new TestAdapterContext(m).withModelShape(SHAPE));
        assertThat(inst.parameters()).extracting(Parameter::name).containsExactly(
                "prompt_encoder.default.embedding.weight", "prompt_encoder.default.transform.0.weight",
                "prompt_encoder.default.transform.0.bias", "prompt_encoder.default.transform.2.weight",
                "prompt_encoder.default.transform.2.bias");
        List<Parameter> ps = inst.parameters();
        float[] e = ps.get(0).value().toFloatArray();       // [2, 32]
        float[] w1 = ps.get(1).value().toFloatArray();      // [5, 32]
        float[] b1 = ps.get(2).value().toFloatArray();
        float[] w2 = ps.get(3).value().toFloatArray();      // [320, 5]
        float[] b2 = ps.get(4).value().toFloatArray();
        NDArray saved = inst.stateDict().get("prompt_embeddings");
        assertThat(saved.getShape()).isEqualTo(new Shape(p, 320));
        float[] got = saved.toFloatArray();
        for (int i = 0; i < p; i++) {
            double[] h = new double[5];
            for (int j = 0; j < 5; j++) {
                double s = b1[j];
                for (int k = 0; k < 32; k++) {
                    s += w1[j * 32 + k] * e[i * 32 + k];
                }
                h[j] = Math.tanh(s);
            }
            for (int o = 0; o < 320; o++) {
                double s = b2[o];
                for (int j = 0; j < 5; j++) {
                    s += w2[o * 5 + j] * h[j];
                }
                assertThat((double) got[i * 320 + o]).isCloseTo(s, within(1e-5));
            }
        }
        // The forward pass uses the same table: layer 0's keys are its first 32 columns.
        AttentionKvSiteModule l0 = (AttentionKvSiteModule) inst.modules().get("model.layers.0.self_attn");
        NDArray k0 = l0.prefixKeyValues(1, TestForwardContext.eval(m)).get(0);   // [1, 4, P, 8]
        NDArray expected = saved.get(new NDIndex(":, 0:32")).reshape(p, 4, 8).transpose(1, 0, 2);
        assertThat(k0.squeeze(0).toFloatArray()).containsExactly(expected.toFloatArray());

        // A saved (inference_mode) config builds a plain table of the folded shape and loads it.
        PrefixTuningConfig loaded = new PrefixTuningConfig(p, 32, 1, 4, 5, 5, true, true, null, null);
        AdapterInstance re = method.create("default", loaded, sites(), new TestAdapterContext(m).withModelShape(SHAPE));
        re.loadStateDict(Map.of("prompt_embeddings", saved));
        assertThat(re.stateDict().get("prompt_embeddings").toFloatArray()).containsExactly(got);
        assertThatThrownBy(() -> re.loadStateDict(Map.of("prompt_embeddings", m.zeros(new Shape(p, 100)))))
                .isInstanceOf(ConfigException.class).hasMessageContaining("prompt_embeddings")
                .hasMessageContaining("(2, 320)");
    }
}
