package io.peft4j.api;

import ai.djl.ndarray.NDArray;
import java.util.Arrays;

/**
 * The dense linear algebra plugins need and DJL does not offer (no SVD or QR in its API), implemented once by the
 * platform: decompositions in float64, and {@code linear} without DJL's internal {@code NDArrayEx}. Plugins get it
 * from {@link AdapterContext#linearAlgebra()}, {@link ForwardContext#linearAlgebra()}, or by injecting it into an
 * extension's constructor ({@code @Inject}); they never depend on a matrix library or on DJL internals.
 */
public interface LinearAlgebra {

    /**
     * The reduced SVD {@code M = U diag(S) Vh} of a row-major {@code [rows, cols]} matrix, {@code k = min(rows, cols)},
     * singular values descending. Singular vectors are defined up to a common sign per triplet.
     *
     * @throws IllegalArgumentException if the matrix contains NaN or infinity (the decomposition cannot converge)
     */
    Svd svd(double[] rowMajor, int rows, int cols);

    /** {@link #svd(double[], int, int)} of a 2-D array (any float type, read as float64). */
    Svd svd(NDArray matrix);

    /**
     * torch's {@code svd_lowrank(M, q = rank, niter)} without oversampling (Halko et al. 2009, alg. 4.4 + 5.1):
     * {@code Q = orth(M G)}, {@code G ~ N(0, 1) [cols, rank]} drawn from the matrix's engine generator (seeded by
     * the platform), {@code niter} power iterations {@code Q = orth(M orth(Mᵀ Q))}, then the exact SVD of
     * {@code Qᵀ M}. Returns {@code rank} triplets.
     */
    Svd svdLowRank(NDArray matrix, int rank, int niter);

    /** The thin {@code Q} of the QR decomposition of {@code y [m, n]}, {@code m >= n}: an orthonormal basis of its columns. */
    NDArray orthonormalBasis(NDArray y);

    /**
     * {@code x Wᵀ + b} (torch's {@code linear}), differentiable. {@code x [..., in]}, {@code weight [out, in]};
     * {@code bias} is null, {@code [out]}, or, for a 2-D {@code x}, a {@code [n, out]} matrix that the product is
     * accumulated into by one GEMM (addmm).
     */
    NDArray linear(NDArray x, NDArray weight, NDArray bias);

    /**
     * A reduced SVD in float64, row-major: {@code u [rows, k]}, {@code s [k]} descending, {@code vh [k, cols]}.
     */
    record Svd(int rows, int cols, double[] u, double[] s, double[] vh) {

        public Svd {
            int k = s.length;
            if (u.length != rows * k || vh.length != k * cols) {
                throw new IllegalArgumentException("SVD factors of a [" + rows + ", " + cols + "] matrix with " + k
                        + " singular values need u of " + rows * k + " and vh of " + k * cols + " values, got "
                        + u.length + " and " + vh.length);
            }
        }

        /** The number of triplets. */
        public int rank() {
            return s.length;
        }

        /** Triplets {@code [from, to)} in the same descending order (e.g. the top r, or the last r). */
        public Svd slice(int from, int to) {
            int k = rank();
            if (from < 0 || to > k || from > to) {
                throw new IllegalArgumentException("triplets [" + from + ", " + to + ") of " + k);
            }
            int n = to - from;
            double[] uu = new double[rows * n];
            for (int i = 0; i < rows; i++) {
                System.arraycopy(u, i * k + from, uu, i * n, n);
            }
            return new Svd(rows, cols, uu, Arrays.copyOfRange(s, from, to),
                    Arrays.copyOfRange(vh, from * cols, to * cols));
        }
    }
}
