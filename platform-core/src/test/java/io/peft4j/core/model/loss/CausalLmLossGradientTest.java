package io.peft4j.core.model.loss;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.api.Test;

/**
 * The loss's value and gradient with respect to the logits equal those of the textbook formulation on the sliced
 * logits ({@code log_softmax(logits[:, :-1]).gather(labels[:, 1:])}), ignored labels included.
 */
class CausalLmLossGradientTest {

    @Test
    void gradientEqualsTheSlicedFormulation() {
        try (NDManager m = NDManager.newBaseManager()) {
            Engine.getInstance().setRandomSeed(3);
            NDArray x = m.randomNormal(new Shape(2, 5, 7));
            long[] ids = {1, 4, -100, 6, 0, 3, 3, 2, -100, 5};
            NDArray labels = m.create(ids, new Shape(2, 5));
            NDArray mask = labels.get(":, 1:").neq(-100);
            NDArray safe = labels.get(":, 1:").mul(mask.toType(DataType.INT64, false));

            float[] got = gradient(x, l -> CausalLmLoss.nllSum(l, labels));
            float[] want = gradient(x, l -> l.get(":, :-1, :").logSoftmax(-1).gather(safe.expandDims(-1), -1)
                    .squeeze(-1).mul(mask.toType(DataType.FLOAT32, false)).sum().neg());
            assertThat(got).hasSize(70);
            for (int i = 0; i < got.length; i++) {
                assertThat((double) got[i]).as("d loss / d logits[" + i + "]").isCloseTo(want[i], within(1e-6));
            }
            // the last position predicts nothing
            NDArray gLast = m.create(got, new Shape(2, 5, 7)).get(":, -1, :");
            assertThat(gLast.abs().sum().getFloat()).isZero();
        }
    }

    private static float[] gradient(NDArray x, java.util.function.Function<NDArray, NDArray> loss) {
        NDArray p = x.duplicate();
        p.setRequiresGradient(true);
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            gc.backward(loss.apply(p));
        }
        try (NDArray g = p.getGradient()) {
            return g.toFloatArray();
        }
    }
}
