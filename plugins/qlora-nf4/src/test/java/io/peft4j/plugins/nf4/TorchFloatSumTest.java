package io.peft4j.plugins.nf4;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The emulated summation order against the libtorch this project runs (DJL's PyTorch engine). */
class TorchFloatSumTest {
    @Test
    void matchesTorchSumAndMeanBitForBit() {
        Random r = new Random(11);
        int mismatches = 0;
        StringBuilder first = new StringBuilder();
        try (NDManager m = NDManager.newBaseManager()) {
            int[] sizes = new int[400];
            for (int i = 0; i < sizes.length; i++) {
                sizes[i] = i < 300 ? i + 1 : 300 + r.nextInt(32000);
            }
            for (int n : sizes) {
                float[] x = new float[n];
                for (int i = 0; i < n; i++) {
                    x[i] = (float) Math.abs(r.nextGaussian()) * 3f;   // absmax-like values
                }
                float torchMean = m.create(x).mean().getFloat();
                float ours = TorchFloatSum.mean(x);
                if (Float.floatToIntBits(torchMean) != Float.floatToIntBits(ours)) {
                    if (mismatches++ == 0) {
                        first.append("n=").append(n).append(": torch ").append(torchMean).append(", ours ").append(ours);
                    }
                }
            }
        }
        assertThat(mismatches).as("mismatching sizes; first: " + first).isZero();
    }
}
