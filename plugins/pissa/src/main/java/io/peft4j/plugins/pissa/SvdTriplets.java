package io.peft4j.plugins.pissa;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.SingularOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.QRDecomposition;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;

/**
 * Singular triplets {@code W ≈ L · diag(S) · Rt} of a linear weight {@code W [out, in]}, in float64:
 * {@code L [out, k]}, {@code S [k]} descending, {@code Rt [k, in]}.
 *
 * <p>{@link #exact} is EJML's reduced SVD ({@code k = min(out, in)}); {@link #randomized} is torch's
 * {@code svd_lowrank(W, q = r, niter)} (Halko et al. 2009, alg. 4.4 + 5.1, no oversampling) with the products in
 * DJL and the QR / small SVD in EJML. Singular vectors are defined up to a common sign per triplet.
 */
public record SvdTriplets(DMatrixRMaj left, double[] values, DMatrixRMaj rightT) {

    public int rank() {
        return values.length;
    }

    /** The reduced SVD of {@code w}, singular values in descending order. */
    public static SvdTriplets exact(NDArray w) {
        return exact(toEjml(w));
    }

    static SvdTriplets exact(DMatrixRMaj w) {
        SingularValueDecomposition_F64<DMatrixRMaj> svd =
                DecompositionFactory_DDRM.svd(w.numRows, w.numCols, true, true, true);
        if (!svd.decompose(w.copy())) {
            throw new IllegalStateException("SVD did not converge on a " + w.numRows + "x" + w.numCols
                    + " weight (does it contain NaN or infinity?)");
        }
        DMatrixRMaj u = svd.getU(null, false);
        DMatrixRMaj s = svd.getW(null);
        DMatrixRMaj v = svd.getV(null, true);
        SingularOps_DDRM.descendingOrder(u, false, s, v, true);
        int k = Math.min(s.numRows, s.numCols);
        double[] values = new double[k];
        for (int i = 0; i < k; i++) {
            values[i] = s.get(i, i);
        }
        return new SvdTriplets(u, values, v);
    }

    /**
     * Randomized rank-{@code r} SVD: {@code Q = orth(W G)} with {@code G ~ N(0, 1) [in, r]}, then {@code niter}
     * power iterations {@code Q = orth(W orth(W^T Q))}, then the exact SVD of the small {@code Q^T W [r, in]}.
     * {@code G} comes from {@code manager}'s engine generator (seeded by the platform).
     */
    static SvdTriplets randomized(NDArray w, int r, int niter, NDManager manager) {
        try (NDManager tmp = manager.newSubManager()) {
            NDArray wl = w.toType(DataType.FLOAT32, true);
            wl.attach(tmp);
            long in = wl.getShape().get(1);
            NDArray g = tmp.randomNormal(new Shape(in, r));
            NDArray q = orth(wl.matMul(g), tmp);                        // [out, r]
            NDArray wt = wl.transpose();
            for (int i = 0; i < niter; i++) {
                NDArray z = orth(wt.matMul(q), tmp);                     // [in, r]
                q = orth(wl.matMul(z), tmp);                             // [out, r]
            }
            DMatrixRMaj qd = toEjml(q);
            SvdTriplets small = exact(toEjml(q.transpose().matMul(wl))); // Q^T W = Ub S Rt, [r, in]
            DMatrixRMaj left = new DMatrixRMaj(qd.numRows, small.rank());
            CommonOps_DDRM.mult(qd, small.left(), left);                 // L = Q Ub
            return new SvdTriplets(left, small.values(), small.rightT());
        }
    }

    /** The thin Q factor of {@code y [m, n]} ({@code m >= n}), as a float32 array in {@code manager}. */
    private static NDArray orth(NDArray y, NDManager manager) {
        DMatrixRMaj yd = toEjml(y);
        QRDecomposition<DMatrixRMaj> qr = DecompositionFactory_DDRM.qr(yd.numRows, yd.numCols);
        if (!qr.decompose(yd)) {
            throw new IllegalStateException("QR decomposition failed on a " + yd.numRows + "x" + yd.numCols
                    + " matrix");
        }
        return toNd(qr.getQ(null, true), manager);
    }

    /** Rows {@code [from, to)} of the triplets (e.g. the top r or the last r). */
    public SvdTriplets slice(int from, int to) {
        DMatrixRMaj l = CommonOps_DDRM.extract(left, 0, left.numRows, from, to);
        DMatrixRMaj rt = CommonOps_DDRM.extract(rightT, from, to, 0, rightT.numCols);
        return new SvdTriplets(l, java.util.Arrays.copyOfRange(values, from, to), rt);
    }

    public static DMatrixRMaj toEjml(NDArray x) {
        long[] s = x.getShape().getShape();
        float[] f = x.toType(DataType.FLOAT32, false).toFloatArray();
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return new DMatrixRMaj((int) s[0], (int) s[1], true, d);
    }

    public static NDArray toNd(DMatrixRMaj m, NDManager manager) {
        float[] f = new float[m.numRows * m.numCols];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) m.data[i];
        }
        return manager.create(f, new Shape(m.numRows, m.numCols));
    }
}
