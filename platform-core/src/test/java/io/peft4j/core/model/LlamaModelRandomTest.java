package io.peft4j.core.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LlamaModelRandomTest {
    /** stories260K's shape with an untied lm_head (the bench module's {@code tiny}, which core cannot depend on). */
    private static final LlamaConfig TINY = new LlamaConfig("llama", 64, 172, 8, 4, 8, 5, 512, 2048, 1e-5, 10000.0,
            null, false, false, false, 1, List.of(2), "float32");

    @Test
    void randomModelHasHfInitAndIsReproducible() {
        LlamaConfig cfg = TINY;
        try (NDManager root = NDManager.newBaseManager();
             LlamaModel a = LlamaModel.random(cfg, root, 7, 0.02);
             LlamaModel b = LlamaModel.random(cfg, root, 7, 0.02)) {
            assertThat(a.tiedEmbeddings()).isFalse();
            assertThat(a.directory()).isNull();
            Map<String, NDArray> ta = a.baseTensors();
            Map<String, NDArray> tb = b.baseTensors();
            assertThat(ta.keySet()).containsExactlyElementsOf(tb.keySet()).contains("lm_head.weight");
            for (String k : ta.keySet()) {
                assertThat(ta.get(k).contentEquals(tb.get(k))).as(k).isTrue();
            }
            float[] norm = ta.get("model.layers.0.input_layernorm.weight").toFloatArray();
            for (float v : norm) {
                assertThat(v).isEqualTo(1f);
            }
            NDArray w = ta.get("model.layers.1.mlp.up_proj.weight");
            assertThat(w.getShape().getShape()).containsExactly(cfg.intermediateSize(), cfg.hiddenSize());
            double std = Math.sqrt(w.square().mean().getFloat() - Math.pow(w.mean().getFloat(), 2));
            assertThat(std).isBetween(0.019, 0.021);
            try (NDManager sm = root.newSubManager()) {
                NDArray ids = sm.create(new long[] {1, 2, 3, 4}, new ai.djl.ndarray.types.Shape(1, 4));
                NDArray logits = a.forward(ids, null, null, PlatformForwardContext.eval(sm));
                assertThat(logits.getShape().getShape()).containsExactly(1, 4, cfg.vocabSize());
            }
        }
    }

    @Test
    void rejectsNonPositiveStd() {
        try (NDManager root = NDManager.newBaseManager()) {
            assertThatThrownBy(() -> LlamaModel.random(TINY, root, 1, 0))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("std");
        }
    }
}
