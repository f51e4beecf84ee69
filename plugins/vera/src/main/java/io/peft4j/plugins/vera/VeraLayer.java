package io.peft4j.plugins.vera;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import io.peft4j.api.ForwardContext;
import io.peft4j.api.LinearBase;
import io.peft4j.api.LinearSiteModule;
import io.peft4j.api.SiteInfo;
import java.util.Optional;

/**
 * VeRA (vector-based random matrix adaptation, Kopiczko et al. 2024) on one linear layer, as Hugging Face PEFT's
 * {@code vera.Linear}. The frozen random projections {@code vera_A [r, max_in]} and {@code vera_B [max_out, r]} are
 * shared by every layer of the adapter; this layer uses their leading slices and learns two vectors:
 * <pre>
 *   A_s = vera_A[:, :in]            B_s = vera_B[:out, :]
 *   y   = base(x) + λ_b ⊙ ( (λ_d ⊙ (drop(x) A_s^T)) B_s^T )        λ_b: [out], λ_d: [r]; no alpha, no scaling
 *   ΔW  = (λ_b[:, None] ⊙ B_s) (λ_d[:, None] ⊙ A_s)                [out, in]
 *   merge: W ← W + ΔW        unmerge: W ← W - ΔW
 * </pre>
 * Fresh adapters start with {@code λ_b = 0} (so {@code y = base(x)}) and {@code λ_d = d_initial}.
 */
public final class VeraLayer implements LinearSiteModule {
    private final SiteInfo site;
    private final float dropout;
    private final NDArray veraA;    // shared [r, max_in]
    private final NDArray veraB;    // shared [max_out, r]
    private final NDArray lambdaB;  // [out]
    private final NDArray lambdaD;  // [r]

    VeraLayer(SiteInfo site, float dropout, NDArray veraA, NDArray veraB, NDArray lambdaB, NDArray lambdaD) {
        this.site = site;
        this.dropout = dropout;
        this.veraA = veraA;
        this.veraB = veraB;
        this.lambdaB = lambdaB;
        this.lambdaD = lambdaD;
    }

    @Override
    public NDArray forward(NDArray x, NDArray result, LinearBase base, ForwardContext ctx) {
        NDArray h = ctx.dropout(x, dropout);
        // Slices of the shared projections are temporaries of this pass (they would otherwise accumulate in the
        // adapter's long-lived manager).
        NDArray aS = sliceA();
        aS.attach(ctx.manager());
        NDArray bS = sliceB();
        bS.attach(ctx.manager());
        NDArray down = ctx.linearAlgebra().linear(h, aS, null);       // [..., r]
        NDArray scaled = down.mul(lambdaD);
        NDArray up = ctx.linearAlgebra().linear(scaled, bS, null);  // [..., out]
        return result.add(up.mul(lambdaB));
    }

    @Override
    public Optional<NDArray> deltaWeight(LinearBase base) {
        return Optional.of(delta());
    }

    @Override
    public void merge(LinearBase base) {
        try (NDArray delta = delta()) {
            base.setWeight(base.withWeight(w -> w.add(delta)));
        }
    }

    @Override
    public void unmerge(LinearBase base) {
        try (NDArray delta = delta()) {
            base.setWeight(base.withWeight(w -> w.sub(delta)));
        }
    }

    /** {@code (λ_b[:, None] ⊙ B_s) (λ_d[:, None] ⊙ A_s)}, without autograd history. */
    private NDArray delta() {
        try (NDArray aS = sliceA(); NDArray bS = sliceB();
             NDArray lb = lambdaB.stopGradient().reshape(-1, 1); NDArray ld = lambdaD.stopGradient().reshape(-1, 1);
             NDArray left = bS.mul(lb); NDArray right = aS.mul(ld)) {
            return left.matMul(right);
        }
    }

    private NDArray sliceA() {
        return veraA.get(new NDIndex(":, :{}", site.inFeatures()));
    }

    private NDArray sliceB() {
        return veraB.get(new NDIndex(":{}, :", site.outFeatures()));
    }

    /** {@code vera_lambda_b}, shape {@code [out]}. */
    public NDArray lambdaB() {
        return lambdaB;
    }

    /** {@code vera_lambda_d}, shape {@code [r]}. */
    public NDArray lambdaD() {
        return lambdaD;
    }

    @Override
    public SiteInfo site() {
        return site;
    }

    /** Copies {@code src} into {@code dst} in place (so parameter references and gradients stay valid). */
    static void copyInto(NDArray dst, NDArray src, String what) {
        if (!dst.getShape().equals(src.getShape())) {
            throw new IllegalArgumentException(what + ": expected shape " + dst.getShape() + ", got " + src.getShape());
        }
        dst.set(new NDIndex("..."), src.toType(dst.getDataType(), false));
    }
}
