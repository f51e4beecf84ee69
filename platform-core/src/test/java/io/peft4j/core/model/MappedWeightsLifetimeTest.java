package io.peft4j.core.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.Test;

/**
 * Weights are memory-mapped zero-copy; the mapping must stay alive as long as the model, whatever the garbage
 * collector does (a freed mapping would make the model read garbage or crash).
 */
class MappedWeightsLifetimeTest {
    @Test
    void logitsSurviveGarbageCollection() {
        long[] probe = {1, 403, 407, 261, 378, 432, 383};
        try (NDManager m = NDManager.newBaseManager(); LlamaModel model = LlamaModel.load(BundledModel.stories260K(), m)) {
            float[] before = logits(model, probe);
            for (int i = 0; i < 5; i++) {
                byte[][] pressure = new byte[64][];
                for (int j = 0; j < pressure.length; j++) {
                    pressure[j] = new byte[1 << 20];
                }
                System.gc();
            }
            assertThat(logits(model, probe)).containsExactly(before);
        }
    }

    private static float[] logits(LlamaModel model, long[] ids) {
        try (NDManager t = NDManager.newBaseManager()) {
            NDArray x = t.create(ids).reshape(1, ids.length);
            return model.forward(x, null, null, PlatformForwardContext.eval(t)).toFloatArray();
        }
    }
}
