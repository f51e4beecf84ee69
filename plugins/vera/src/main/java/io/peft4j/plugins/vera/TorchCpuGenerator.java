package io.peft4j.plugins.vera;

/**
 * A bit-exact re-implementation of the part of torch's CPU generator VeRA needs: MT19937 seeded with
 * {@code manual_seed(seed)} (standard {@code init_genrand} on the low 32 bits) and {@code Tensor.uniform_} on float32
 * tensors, which consumes one 32-bit draw per element in row-major order:
 * <pre>
 *   u = draw &amp; 0xFFFFFF;   v = float32( (u · 2^-24) · (hi - lo) + lo )     computed in double, lo/hi float32
 * </pre>
 * Checked against torch by the golden case {@code vera_projection_prng}.
 */
final class TorchCpuGenerator {
    private static final int N = 624;
    private static final int M = 397;
    private final int[] mt = new int[N];
    private int index = N;

    TorchCpuGenerator(long seed) {
        mt[0] = (int) seed;
        for (int i = 1; i < N; i++) {
            mt[i] = 1812433253 * (mt[i - 1] ^ (mt[i - 1] >>> 30)) + i;
        }
    }

    /** The next 32-bit output (as an unsigned value in the low bits of a long). */
    long nextUint32() {
        if (index >= N) {
            twist();
        }
        int y = mt[index++];
        y ^= y >>> 11;
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        y ^= y >>> 18;
        return y & 0xFFFFFFFFL;
    }

    private void twist() {
        for (int i = 0; i < N; i++) {
            int y = (mt[i] & 0x80000000) | (mt[(i + 1) % N] & 0x7fffffff);
            int v = mt[(i + M) % N] ^ (y >>> 1);
            if ((y & 1) != 0) {
                v ^= 0x9908b0df;
            }
            mt[i] = v;
        }
        index = 0;
    }

    /** {@code torch.empty(n).uniform_(lo, hi, generator=this)} as a flat array. */
    float[] uniform(int n, double lo, double hi) {
        double from = (float) lo;
        double to = (float) hi;
        double range = (float) (to - from); // torch computes (to - from) in float
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            double x = (nextUint32() & 0xFFFFFFL) * 0x1.0p-24;
            out[i] = (float) (x * range + from);
        }
        return out;
    }

    /**
     * PEFT VeRA's {@code _kaiming_init} of a {@code [rows, cols]} tensor: {@code U(-bound, bound)} with
     * {@code bound = sqrt(3) · (sqrt(2) / sqrt(fan_in))}, {@code fan_in = cols}.
     */
    float[] kaimingUniform(int rows, int cols) {
        double bound = kaimingBound(cols);
        return uniform(rows * cols, -bound, bound);
    }

    static double kaimingBound(int fanIn) {
        double std = Math.sqrt(2) / Math.sqrt(fanIn);
        return Math.sqrt(3.0) * std;
    }
}
