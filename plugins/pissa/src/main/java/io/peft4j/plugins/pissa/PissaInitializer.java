package io.peft4j.plugins.pissa;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.AdapterContext;
import io.peft4j.api.ConfigException;
import io.peft4j.api.LinearAlgebra;
import io.peft4j.api.LinearAlgebra.Svd;
import io.peft4j.api.LinearBase;
import io.peft4j.api.LowRankSite;
import io.peft4j.api.SiteInfo;
import org.pf4j.Extension;

/**
 * PiSSA initialisation ({@code init_lora_weights: "pissa"} or {@code "pissa_niter_<N>"}), as Hugging Face PEFT's
 * {@code LoraLayer.pissa_init}:
 * <pre>
 *   W = V · diag(S) · Uh            reduced SVD, S descending (pissa_niter_N: randomized, N power iterations)
 *   Sr = S[:r] / s                  s = the adapter's scaling (alpha/r, rsLoRA alpha/sqrt r)
 *   A = diag(√Sr) · Uh[:r]          [r, in]
 *   B = V[:, :r] · diag(√Sr)        [out, r]
 *   W_res = W - s · B A             written back to the base layer
 * </pre>
 * With {@code r > min(in, out)} the slices stop at {@code min(in, out)} (PEFT's behaviour): the factors have
 * {@code min(in, out)} rows/columns, {@code s = alpha / r} is unchanged and the residual is ~0.
 * So {@code s·B A} is the best rank-r approximation of W (exactly, for the full SVD) and the layer output is
 * unchanged at initialisation. The factors are set through the {@link LowRankSite} view, so LoRA and DoRA (whose
 * magnitude is computed afterwards from {@code W_res + s·B A = W}) both work. Arithmetic: the decomposition runs in
 * float64 (the platform's {@link LinearAlgebra}), the factors are rounded to float32 and the residual is computed in
 * float32 from those rounded factors, as PEFT does, so {@code W_res + s·B A} reproduces W to float32 rounding.
 *
 * <p><b>Quantized bases.</b> The platform quantizes base layers <i>after</i> adapters are initialised, so PiSSA sees
 * and rewrites the full-precision weight, and the residual is what gets quantized - the order PEFT recommends. If an
 * initializer ever runs on an already quantized base (e.g. loading a PiSSA adapter onto a quantized model), it
 * decomposes the dequantized weight and {@link LinearBase#setWeight} re-quantizes the residual (lossy), or the base
 * refuses the write with a clear error.
 *
 * <p>{@code pissa_niter_N} is random (seeded by the platform) and approximate; {@code W_res + s·B A == W} holds
 * regardless. Reloading a saved adapter onto the original model re-runs the decomposition (PEFT semantics), which
 * for the randomized variant gives a slightly different residual.
 */
@Extension
public final class PissaInitializer extends ResidualInitializer {
    public static final String ID = "pissa";
    static final String NITER_PREFIX = "pissa_niter_";

    public PissaInitializer() {
        super(ID, NITER_PREFIX,
                "PiSSA: adapter = top-r singular triplets of W, base = residual (pissa, pissa_niter_<N>)");
    }

    /**
     * The number of power iterations of {@code pissa_niter_<N>}, or -1 for the exact {@code pissa}.
     *
     * @throws ConfigException on field {@code init_lora_weights} if the suffix is not a non-negative integer
     */
    static int niter(String initName) {
        if (ID.equals(initName)) {
            return -1;
        }
        return suffixNumber(initName, NITER_PREFIX, 0, 999_999_999, "\"pissa\" or \"pissa_niter_<N>\" with N a "
                + "non-negative integer number of power iterations (e.g. pissa_niter_4)");
    }

    /**
     * {@code pissa} accepts any rank (PEFT slices the SVD at {@code min(in, out)}, see {@link SvdInitializer});
     * {@code pissa_niter_N} with {@code r > min(in, out)} is rejected: PEFT's randomized SVD
     * ({@code torch.svd_lowrank}) fails there with an assertion error.
     */
    @Override
    public void validate(String initName, SiteInfo site, int rank) {
        int max = Math.min(site.inFeatures(), site.outFeatures());
        if (niter(initName) >= 0 && rank > max) {
            throw new ConfigException("r", initName + " needs r <= min(in, out), but module " + site.path()
                    + " [out=" + site.outFeatures() + ", in=" + site.inFeatures() + "] has min(in, out) = " + max
                    + " and r = " + rank + " (PEFT's randomized SVD fails there too); use init_lora_weights: pissa "
                    + "(exact SVD) or a smaller r");
        }
    }

    @Override
    public void initialize(String initName, LowRankSite site, LinearBase base, AdapterContext ctx) {
        validate(initName, base.site(), site.rank());
        int niter = niter(initName);
        int r = triplets(site);
        LinearAlgebra la = ctx.linearAlgebra();
        Svd top = base.withWeight(w -> niter < 0 ? la.svd(w).slice(0, r) : la.svdLowRank(w, r, niter));
        applyTriplets(top, site, base, ctx.manager());
    }

    /**
     * Sets {@code A = diag(√(S/s)) Rt} and {@code B = L diag(√(S/s))}, so that {@code s·B A = L diag(S) Rt} for the
     * site's scaling {@code s} (used by LoftQ too).
     */
    public static void setScaledFactors(Svd t, LowRankSite site, NDManager tmp) {
        double s = site.scaling();
        int r = t.rank();
        int in = t.cols();
        int out = t.rows();
        float[] a = new float[r * in];
        float[] b = new float[out * r];
        for (int i = 0; i < r; i++) {
            double root = Math.sqrt(t.s()[i] / s);
            for (int j = 0; j < in; j++) {
                a[i * in + j] = (float) (t.vh()[i * in + j] * root);
            }
            for (int j = 0; j < out; j++) {
                b[j * r + i] = (float) (t.u()[j * r + i] * root);
            }
        }
        site.setFactors(tmp.create(a, new Shape(r, in)),
                tmp.create(b, new Shape(out, r)));
    }

    /**
     * Sets the factors as {@link #setScaledFactors} does and writes {@code W_res = W - s·B A} to the base (used by
     * MiLoRA too, with the last r triplets).
     */
    public static void applyTriplets(Svd t, LowRankSite site, LinearBase base, NDManager manager) {
        double s = site.scaling();
        try (NDManager tmp = manager.newSubManager()) {
            setScaledFactors(t, site, tmp);
            // w is the first operand, so the residual lives in the base layer's manager, not in tmp.
            try (NDArray delta = site.loraB().matMul(site.loraA()).muli((float) s)) {
                base.setWeight(base.withWeight(w -> w.sub(delta)));
            }
        }
    }
}
