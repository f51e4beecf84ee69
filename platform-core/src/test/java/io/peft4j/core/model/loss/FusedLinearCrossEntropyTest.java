package io.peft4j.core.model.loss;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.api.Test;

/**
 * The fused lm_head + loss gives the value and the gradient with respect to its input that autograd gives for
 * {@code CausalLmLoss.nllSum(hidden · Wᵀ, labels)}, for every chunking (one row per chunk, chunks that do not divide
 * the rows, one chunk), with ignored labels and a scale.
 */
class FusedLinearCrossEntropyTest {

    @Test
    void valueAndGradientEqualAutogradForEveryChunking() {
        compareWithAutograd(1.0);
    }

    /**
     * Logits so spread that some labels' softmax probabilities underflow float32 (log-probabilities in the hundreds):
     * the exact log-softmax path takes over and the loss is still the autograd one.
     */
    @Test
    void labelsWithUnderflowingProbabilityKeepTheExactLoss() {
        compareWithAutograd(60.0);
    }

    private static void compareWithAutograd(double spread) {
        try (NDManager m = NDManager.newBaseManager()) {
            Engine.getInstance().setRandomSeed(5);
            NDArray hidden = m.randomNormal(new Shape(3, 6, 8)).mul((float) spread);
            NDArray weight = m.randomNormal(new Shape(11, 8));
            long[] ids = {1, 4, -100, 6, 0, 3, 3, 2, -100, 5, 10, 7, 9, 9, 9, -100, -100, 1};
            NDArray labels = m.create(ids, new Shape(3, 6));
            double scale = 1.0 / 7;

            NDArray h = hidden.duplicate();
            h.setRequiresGradient(true);
            double wantLoss;
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray nll = CausalLmLoss.nllSum(h.getNDArrayInternal().linear(h, weight, null).singletonOrThrow(),
                        labels);
                wantLoss = nll.getFloat();
                gc.backward(nll.mul(m.create((float) scale)));
            }
            float[] want = h.getGradient().toFloatArray();

            for (int chunk : new int[] {1, 4, 7, 18, 1000}) {
                FusedLinearCrossEntropy.Result r = FusedLinearCrossEntropy.compute(hidden, weight, labels, scale, chunk);
                assertThat(r.nllSum()).as("nll, chunk %d", chunk).isCloseTo(wantLoss, within(1e-4 * spread * spread));
                float[] got = r.gradHidden().toFloatArray();
                assertThat(r.gradHidden().getShape()).isEqualTo(hidden.getShape());
                for (int i = 0; i < want.length; i++) {
                    assertThat((double) got[i]).as("chunk %d, d/dhidden[%d]", chunk, i).isCloseTo(want[i],
                            within(1e-6 * spread));
                }
            }
            if (spread > 10) {
                assertThat(wantLoss / 14).as("mean nll per counted token: far beyond float32 softmax")
                        .isGreaterThan(69);   // -log(1e-30)
            }
        }
    }

    @Test
    void chunkSizeFollowsTheVocabulary() {
        assertThat(FusedLinearCrossEntropy.defaultChunkRows(32000)).isEqualTo(262);   // 32 MiB of logits
        assertThat(FusedLinearCrossEntropy.defaultChunkRows(512)).isEqualTo(16384);
    }

    @Test
    void rejectsMismatchedShapes() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray hidden = m.zeros(new Shape(2, 3, 4));
            assertThatThrownBy(() -> FusedLinearCrossEntropy.compute(hidden, m.zeros(new Shape(5, 3)),
                    m.zeros(new Shape(2, 3), ai.djl.ndarray.types.DataType.INT64), 1, 8))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("weight [V, H]");
            assertThatThrownBy(() -> FusedLinearCrossEntropy.compute(hidden, m.zeros(new Shape(5, 4)),
                    m.zeros(new Shape(2, 4), ai.djl.ndarray.types.DataType.INT64), 1, 8))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("labels must be [batch, seq]");
        }
    }
}
