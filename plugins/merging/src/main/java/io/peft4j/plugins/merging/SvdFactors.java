package io.peft4j.plugins.merging;

import io.peft4j.api.LinearAlgebra;
import java.util.Arrays;

/**
 * Re-factorises a combined update {@code ΔW [out, in]} to rank k (spec section 9.4):
 * {@code U, S, Vh = svd(ΔW)}, {@code B = U[:, :k] diag(S[:k])}, {@code A = Vh[:k]}; optionally both factors are
 * clamped to {@code [-h, h]} with {@code h} the {@code clamp}-quantile (linear interpolation, as
 * {@code torch.quantile}) of all entries of B and A together. Uses the platform's dense SVD ({@link LinearAlgebra}) in double precision.
 *
 * @param a              {@code [k, in]} row-major
 * @param b              {@code [out, k]} row-major
 * @param singularValues the k largest singular values, descending
 */
record SvdFactors(double[] a, double[] b, int rank, double[] singularValues) {

    static SvdFactors of(LinearAlgebra la, double[] delta, int out, int in, int k, Double clamp) {
        int full = Math.min(out, in);
        if (k > full) {
            k = full;   // no more singular directions exist; the caller pads with zeros
        }
        LinearAlgebra.Svd svd;
        try {
            svd = la.svd(delta, out, in);       // u [out, full], s [full] descending, vh [full, in]
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new IllegalStateException("SVD of the combined update [" + out + ", " + in + "] failed: "
                    + e.getMessage(), e);
        }
        double[] s = svd.s();
        double[] b = new double[out * k];
        double[] a = new double[k * in];
        for (int i = 0; i < out; i++) {
            for (int j = 0; j < k; j++) {
                b[i * k + j] = svd.u()[i * full + j] * s[j];
            }
        }
        System.arraycopy(svd.vh(), 0, a, 0, k * in);
        if (clamp != null) {
            double hi = quantile(concat(b, a), clamp);
            clampInPlace(b, -hi, hi);
            clampInPlace(a, -hi, hi);
        }
        return new SvdFactors(a, b, k, Arrays.copyOf(s, k));
    }

    /** torch.quantile with linear interpolation. */
    static double quantile(double[] values, double q) {
        double[] v = values.clone();
        Arrays.sort(v);
        double pos = q * (v.length - 1);
        int lo = (int) Math.floor(pos);
        int hi = Math.min(lo + 1, v.length - 1);
        return v[lo] + (v[hi] - v[lo]) * (pos - lo);
    }

    private static double[] concat(double[] x, double[] y) {
        double[] out = Arrays.copyOf(x, x.length + y.length);
        System.arraycopy(y, 0, out, x.length, y.length);
        return out;
    }

    private static void clampInPlace(double[] x, double lo, double hi) {
        for (int i = 0; i < x.length; i++) {
            x[i] = Math.max(lo, Math.min(hi, x[i]));
        }
    }
}
