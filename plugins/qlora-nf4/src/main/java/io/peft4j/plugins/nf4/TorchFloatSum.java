package io.peft4j.plugins.nf4;

/**
 * The float32 summation order of torch's CPU {@code sum} for a contiguous 1-D tensor ({@code SumKernel.cpp},
 * {@code cascade_sum} → {@code vectorized_inner_sum} with 8-lane AVX2 vectors, 4-way ILP and a 4-level cascade),
 * so that {@code mean(absmax) = sum / n} reproduces bitsandbytes' double-quantization offset bit for bit.
 *
 * <p>Reproduced: the golden offsets of {@code nf4_quantize_double_quant}, {@code qlora_forward} and
 * {@code blockwise8_dynamic_absmax_quant} (a plain double-precision mean is off by one ulp on the last two), and
 * {@code torch.mean} of libtorch 2.5.1 (through DJL, on an AVX-512 CPU, which still runs this kernel with 8 lanes)
 * for 400 sizes from 1 to 32300 ({@code TorchFloatSumTest}). Limit: torch splits reductions of 32768 or more elements
 * (2M+ weights at blocksize 64) across threads, and the result then depends on the thread count; the offset is stored
 * with the weight, so only a bit-exact re-quantization of such a layer could differ, by an ulp of the offset.
 */
final class TorchFloatSum {
    private static final int LANES = 8;
    private static final int ILP = 4;
    private static final int LEVELS = 4;

    private TorchFloatSum() {
    }

    /** {@code torch.mean(x)} in float32: the torch-ordered float32 sum divided by n in float32. */
    static float mean(float[] x) {
        return sum(x) / (float) x.length;
    }

    static float sum(float[] x) {
        int n = x.length;
        if (n >= LANES) {
            int vecCount = n / LANES;
            float[] vacc = rowSum(x, LANES, vecCount);
            float acc = 0f;
            for (int k = vecCount * LANES; k < n; k++) {
                acc += x[k];
            }
            for (int k = 0; k < LANES; k++) {
                acc += vacc[k];
            }
            return acc;
        }
        return rowSum(x, 1, n)[0];
    }

    /**
     * {@code row_sum}: sums {@code count} consecutive "elements" of {@code width} lanes (a vector when width is 8,
     * a scalar when 1) with 4 interleaved accumulators, then folds them.
     */
    private static float[] rowSum(float[] x, int width, int count) {
        int sizeIlp = count / ILP;
        float[][] partial = multiRowSum(x, width, sizeIlp);
        for (int i = sizeIlp * ILP; i < count; i++) {
            addLanes(partial[0], x, i * width, width);
        }
        for (int k = 1; k < ILP; k++) {
            for (int l = 0; l < width; l++) {
                partial[0][l] += partial[k][l];
            }
        }
        return partial[0];
    }

    /** {@code multi_row_sum<acc, 4>}: ILP accumulators, each a 4-level cascade flushed every 2^levelPower rows. */
    private static float[][] multiRowSum(float[] x, int width, int size) {
        int levelPower = Math.max(4, ceilLog2(size) / LEVELS);
        int levelStep = 1 << levelPower;
        long levelMask = levelStep - 1;
        float[][][] acc = new float[LEVELS][ILP][width];
        int i = 0;
        while (i + levelStep <= size) {
            for (int j = 0; j < levelStep; j++, i++) {
                for (int k = 0; k < ILP; k++) {
                    addLanes(acc[0][k], x, (i * ILP + k) * width, width);
                }
            }
            for (int j = 1; j < LEVELS; j++) {
                for (int k = 0; k < ILP; k++) {
                    for (int l = 0; l < width; l++) {
                        acc[j][k][l] += acc[j - 1][k][l];
                        acc[j - 1][k][l] = 0f;
                    }
                }
                if ((i & (levelMask << (j * levelPower))) != 0) {
                    break;
                }
            }
        }
        for (; i < size; i++) {
            for (int k = 0; k < ILP; k++) {
                addLanes(acc[0][k], x, (i * ILP + k) * width, width);
            }
        }
        for (int j = 1; j < LEVELS; j++) {
            for (int k = 0; k < ILP; k++) {
                for (int l = 0; l < width; l++) {
                    acc[0][k][l] += acc[j][k][l];
                }
            }
        }
        return acc[0];
    }

    private static void addLanes(float[] acc, float[] x, int from, int width) {
        for (int l = 0; l < width; l++) {
            acc[l] += x[from + l];
        }
    }

    /** {@code c10::utils::CeilLog2}: 0 for 0 and 1, else ceil(log2(v)). */
    private static int ceilLog2(int v) {
        return v <= 1 ? 0 : 32 - Integer.numberOfLeadingZeros(v - 1);
    }
}
