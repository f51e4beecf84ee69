package io.peft4j.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/** Best-of-{@code reps} fp32 {@code n×n @ n×n} matmul throughput, the MFU denominator (as the peer's measure_peak). */
final class MatmulPeak {
    private MatmulPeak() {
    }

    /** GFLOP/s of the fastest of {@code reps} products ({@code 2 n³} FLOPs each), after one warm-up product. */
    static double gflops(NDManager parent, int n, int reps) {
        try (NDManager m = parent.newSubManager()) {
            NDArray a = m.randomNormal(new Shape(n, n));
            NDArray b = m.randomNormal(new Shape(n, n));
            a.matMul(b).close();
            long best = Long.MAX_VALUE;
            for (int i = 0; i < reps; i++) {
                long t0 = System.nanoTime();
                NDArray c = a.matMul(b);
                long t = System.nanoTime() - t0;
                c.close();
                best = Math.min(best, t);
            }
            return 2.0 * n * n * (double) n / (best / 1e9) / 1e9;
        }
    }
}
