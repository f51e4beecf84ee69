package io.peft4j.linalg;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.LinearAlgebra;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.SingularOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.QRDecomposition;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;

/**
 * The platform's {@link LinearAlgebra}: decompositions with EJML in float64 (DJL has no SVD or QR; see
 * reference/java-stack.md), products in the tensor engine, {@code linear} through torch's own op. The only place
 * in the platform that talks to EJML, and, with the model code, to DJL's internal {@code NDArrayEx}.
 *
 * <p>Its own module (platform-api + DJL's API + EJML) so that plugin unit tests, through the testkit, run the
 * platform's decompositions without depending on platform-core. At run time plugins never see this class (the
 * plugin class loader exposes only io.peft4j.api); they get the instance from the SPI contexts or by injection.
 */
public final class EjmlLinearAlgebra implements LinearAlgebra {

    public static final EjmlLinearAlgebra INSTANCE = new EjmlLinearAlgebra();

    private EjmlLinearAlgebra() {
    }

    @Override
    public Svd svd(double[] rowMajor, int rows, int cols) {
        if (rowMajor.length != (long) rows * cols) {
            throw new IllegalArgumentException("a [" + rows + ", " + cols + "] matrix has " + (long) rows * cols
                    + " values, got " + rowMajor.length);
        }
        return svd(new DMatrixRMaj(rows, cols, true, rowMajor.clone()));
    }

    @Override
    public Svd svd(NDArray matrix) {
        return svd(toEjml(matrix));
    }

    private static Svd svd(DMatrixRMaj m) {
        for (double v : m.data) {
            if (!Double.isFinite(v)) {
                throw new IllegalArgumentException("SVD of a " + m.numRows + "x" + m.numCols
                        + " matrix that contains NaN or infinity");
            }
        }
        int rows = m.numRows;
        int cols = m.numCols;
        SingularValueDecomposition_F64<DMatrixRMaj> dec = DecompositionFactory_DDRM.svd(rows, cols, true, true, true);
        if (!dec.decompose(m)) {
            throw new IllegalStateException("SVD did not converge on a " + rows + "x" + cols + " matrix");
        }
        DMatrixRMaj u = dec.getU(null, false);
        DMatrixRMaj w = dec.getW(null);
        DMatrixRMaj vh = dec.getV(null, true);
        SingularOps_DDRM.descendingOrder(u, false, w, vh, true);
        int k = Math.min(rows, cols);
        double[] s = new double[k];
        for (int i = 0; i < k; i++) {
            s[i] = w.get(i, i);
        }
        // Compact economy factors: EJML may return U [rows, rows] / Vh [cols, cols] when one side is short.
        DMatrixRMaj uk = u.numCols == k ? u : CommonOps_DDRM.extract(u, 0, rows, 0, k);
        DMatrixRMaj vk = vh.numRows == k ? vh : CommonOps_DDRM.extract(vh, 0, k, 0, cols);
        return new Svd(rows, cols, uk.data.length == rows * k ? uk.data : java.util.Arrays.copyOf(uk.data, rows * k),
                s, vk.data.length == k * cols ? vk.data : java.util.Arrays.copyOf(vk.data, k * cols));
    }

    @Override
    public Svd svdLowRank(NDArray matrix, int rank, int niter) {
        if (rank < 1 || niter < 0) {
            throw new IllegalArgumentException("svd_lowrank needs rank >= 1 and niter >= 0, got " + rank + ", " + niter);
        }
        try (NDManager tmp = matrix.getManager().newSubManager()) {
            NDArray m = matrix.toType(DataType.FLOAT32, true);
            m.attach(tmp);
            long cols = m.getShape().get(1);
            NDArray g = tmp.randomNormal(new Shape(cols, rank));
            NDArray q = orthonormalBasis(m.matMul(g));                       // [rows, rank]
            NDArray mt = m.transpose();
            for (int i = 0; i < niter; i++) {
                NDArray z = orthonormalBasis(mt.matMul(q));                   // [cols, rank]
                q = orthonormalBasis(m.matMul(z));                            // [rows, rank]
            }
            DMatrixRMaj qd = toEjml(q);
            Svd small = svd(toEjml(q.transpose().matMul(m)));                 // Qᵀ M = Ub S Vh, [rank, cols]
            DMatrixRMaj ub = new DMatrixRMaj(small.rows(), small.rank(), true, small.u());
            DMatrixRMaj left = new DMatrixRMaj(qd.numRows, small.rank());
            CommonOps_DDRM.mult(qd, ub, left);                               // U = Q Ub
            return new Svd(qd.numRows, (int) cols, left.data, small.s(), small.vh());
        }
    }

    @Override
    public NDArray orthonormalBasis(NDArray y) {
        DMatrixRMaj yd = toEjml(y);
        QRDecomposition<DMatrixRMaj> qr = DecompositionFactory_DDRM.qr(yd.numRows, yd.numCols);
        if (!qr.decompose(yd)) {
            throw new IllegalStateException("QR decomposition failed on a " + yd.numRows + "x" + yd.numCols + " matrix");
        }
        DMatrixRMaj q = qr.getQ(null, true);
        float[] f = new float[q.numRows * q.numCols];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) q.data[i];
        }
        return y.getManager().create(f, new Shape(q.numRows, q.numCols));
    }

    @Override
    public NDArray linear(NDArray x, NDArray weight, NDArray bias) {
        return x.getNDArrayInternal().linear(x, weight, bias).singletonOrThrow();
    }

    private static DMatrixRMaj toEjml(NDArray x) {
        long[] s = x.getShape().getShape();
        if (s.length != 2) {
            throw new IllegalArgumentException("expected a 2-D matrix, got shape " + x.getShape());
        }
        double[] d = x.toType(DataType.FLOAT64, false).toDoubleArray();
        return new DMatrixRMaj((int) s[0], (int) s[1], true, d);
    }
}
