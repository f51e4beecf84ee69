package io.peft4j.core.model.loss;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

class CausalLmLossTest {
    @Test
    void shiftedMeanOverCountedTokensMatchesHandComputation() {
        int b = 2, t = 4, v = 5;
        float[] logits = new float[b * t * v];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) Math.sin(i * 0.7) * 2f;
        }
        long[] labels = {9, 1, -100, 3, 9, -100, 4, 0};
        double sum = 0;
        int count = 0;
        for (int bi = 0; bi < b; bi++) {
            for (int ti = 0; ti < t - 1; ti++) {
                long y = labels[bi * t + ti + 1];
                if (y == -100) {
                    continue;
                }
                int base = (bi * t + ti) * v;
                double max = Double.NEGATIVE_INFINITY;
                for (int k = 0; k < v; k++) {
                    max = Math.max(max, logits[base + k]);
                }
                double z = 0;
                for (int k = 0; k < v; k++) {
                    z += Math.exp(logits[base + k] - max);
                }
                sum += max + Math.log(z) - logits[base + (int) y];
                count++;
            }
        }
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray l = m.create(logits, new Shape(b, t, v));
            NDArray y = m.create(labels, new Shape(b, t));
            assertThat(CausalLmLoss.countedTokens(y)).isEqualTo(count).isEqualTo(4);
            assertThat((double) CausalLmLoss.nllSum(l, y).getFloat()).isCloseTo(sum, within(1e-5));
            assertThat((double) CausalLmLoss.mean(l, y).getFloat()).isCloseTo(sum / count, within(1e-6));
        }
    }
}
