package io.peft4j.core.train;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import io.peft4j.core.model.BundledModel;
import io.peft4j.core.model.LlamaModel;
import io.peft4j.core.model.PlatformForwardContext;
import io.peft4j.core.model.loss.CausalLmLoss;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Regression test for a native-memory hazard: DJL builds the scalar of {@code NDArray.div(Number)} (and mul, pow)
 * zero-copy over a Java direct buffer that the garbage collector may free before autograd uses it in backward.
 * The model's forward and the loss must not depend on such scalars: gradients after a full GC plus direct-buffer
 * churn (filled with NaN bytes, so reused memory is visible) must equal gradients without it.
 */
class GcBetweenForwardAndBackwardTest {

    private static float[] gradient(LlamaModel model, NDManager m, boolean churn) {
        NDArray bias = m.zeros(new Shape(model.shape().vocabSize()));
        bias.setRequiresGradient(true);
        NDArray ids = m.create(new long[] {1, 403, 407, 261, 378, 432, 383, 286}).reshape(1, 8);
        NDArray labels = ids.duplicate();
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            NDArray logits = model.forward(ids, null, null, new PlatformForwardContext(true, m)).add(bias);
            NDArray loss = CausalLmLoss.mean(logits, labels);
            if (churn) {
                for (int round = 0; round < 3; round++) {
                    System.gc();
                    List<ByteBuffer> junk = new ArrayList<>();
                    for (int i = 0; i < 20000; i++) {
                        ByteBuffer b = ByteBuffer.allocateDirect(16).order(ByteOrder.nativeOrder());
                        for (int j = 0; j < 4; j++) {
                            b.putFloat(Float.NaN);
                        }
                        junk.add(b);
                    }
                }
            }
            gc.backward(loss);
        }
        try (NDArray g = bias.getGradient()) {
            return g.toFloatArray();
        }
    }

    @Test
    void gradientsDoNotDependOnTheGarbageCollector() {
        try (NDManager m = NDManager.newBaseManager(); LlamaModel model = LlamaModel.load(BundledModel.stories260K(), m)) {
            float[] reference = gradient(model, m, false);
            for (int i = 0; i < 3; i++) {
                assertThat(gradient(model, m, true)).containsExactly(reference);
            }
        }
    }
}
