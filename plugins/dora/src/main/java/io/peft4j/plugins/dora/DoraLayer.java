package io.peft4j.plugins.dora;

import ai.djl.ndarray.NDArray;
import io.peft4j.api.BaseWeight;
import io.peft4j.api.ForwardContext;
import io.peft4j.api.LinearBase;
import io.peft4j.api.SiteInfo;
import io.peft4j.plugins.lora.LoraFactorLayer;
import io.peft4j.plugins.lora.LoraFactors;
import java.util.Optional;

/**
 * DoRA (weight-decomposed low-rank adaptation, Liu et al. 2024) on one linear layer, as Hugging Face PEFT's
 * {@code DoraLinearLayer} / {@code DoraLinearVariant}. With {@code W [out, in]} the base weight,
 * {@code A [r, in]}, {@code B [out, r]}, {@code s} the LoRA scaling and {@code m [out]} the trainable magnitude:
 * <pre>
 *   n(V)  = ||V||_2 over the input dim, one value per output row              [out]
 *   init:   m = n(W + s·B A)            (after A/B init and any initializer; B = 0 gives n(W))
 *   n     = n(W + s·B A)                recomputed every forward from the CURRENT A, B and DETACHED
 *                                        (a constant for autograd, paper §4.3)
 *   g     = m / n                        broadcast over the output dim
 *   eval or dropout p = 0:
 *     y = result + (g - 1) ⊙ (result - b) + g ⊙ s·B(A x)
 *         where result = base(x) plus earlier adapters' contributions (PEFT reuses it as x W^T)
 *   training with p &gt; 0, x_d = dropout(x):
 *     y = result + (g - 1) ⊙ (x_d W^T) + g ⊙ s·B(A x_d)
 *   single adapter, eval:  y = g ⊙ ((W + s·B A) x) + b      (the bias is not rescaled)
 *   merge:    ΔW = s·B A,  n0 = n(W + ΔW) (cached),  W' = (m/n0)[:, None] ⊙ (W + ΔW);  bias untouched
 *   unmerge:  W = W' / (m/n0)[:, None] - ΔW          (needs the cached n0; it cannot be recomputed from W')
 * </pre>
 * Gradients: {@code m} learns through {@code g}; {@code A} and {@code B} only through the low-rank term, never
 * through {@code n}. {@link #setFactors} leaves {@code m} alone: during creation the adapter computes it after the
 * initializer has run, exactly as PEFT does.
 */
public final class DoraLayer extends LoraFactorLayer {
    private final NDArray magnitude;  // [out]
    private NDArray mergedNorm;       // n0 cached by merge, null while unmerged

    DoraLayer(SiteInfo site, int rank, float scaling, float dropout, NDArray loraA, NDArray loraB,
              NDArray magnitude) {
        super(site, rank, scaling, dropout, loraA, loraB);
        this.magnitude = magnitude;
    }

    /** Sets {@code m = n(W + s·B A)} from the base weight and the current factors (PEFT's DoRA init). */
    void initMagnitude(LinearBase base) {
        try (BaseWeight w = base.weight(); NDArray ba = loraB.matMul(loraA)) {
            ba.muli(scaling).addi(w.array());
            try (NDArray n = rowNorm(ba)) {
                LoraFactors.copyInto(magnitude, n, site.path() + ".lora_magnitude_vector");
            }
        }
    }

    @Override
    public NDArray forward(NDArray x, NDArray result, LinearBase base, ForwardContext ctx) {
        // Param-first ops would land in the adapter's long-lived manager; move such temporaries to the pass.
        NDArray ba = temp(loraB.matMul(loraA), ctx);
        NDArray n;
        try (BaseWeight w = base.weight()) {
            n = rowNorm(ba.stopGradient().mul(scaling).add(w.array()));  // detached: no grad through n
        }
        NDArray g = temp(magnitude.div(n), ctx);                        // [out]

        NDArray xBranch;
        NDArray baseResult;
        if (!ctx.training() || dropout <= 0f) {
            xBranch = x;
            // PEFT: base_result = result - bias (result may already hold earlier adapters' contributions).
            Optional<NDArray> b = base.bias();
            baseResult = b.isPresent() ? result.sub(b.get()) : result;
        } else {
            xBranch = ctx.dropout(x, dropout);
            baseResult = base.project(xBranch, ctx);
        }
        NDArray down = ctx.linearAlgebra().linear(xBranch, loraA, null);
        NDArray lora = ctx.linearAlgebra().linear(down, loraB, null);
        NDArray correction = baseResult.mul(g.sub(1f)).add(lora.mul(g).mul(ctx.scalar(scaling)));
        return result.add(correction);
    }

    /**
     * DoRA's update is not additive (it rescales rows), so this returns the <em>effective</em> difference the
     * adapter makes to the current base weight: {@code (m/n0)[:, None] ⊙ (W + ΔW) - W} with {@code n0 = n(W + ΔW)}.
     * While merged, {@code W} is recovered from the merged weight with the cached norm first, so the result is
     * the same merged or not. Exact for the base weight it was computed from; it does not transfer to another base.
     */
    @Override
    public Optional<NDArray> deltaWeight(LinearBase base) {
        try (BaseWeight lease = base.weight(); NDArray delta = loraDelta()) {
            NDArray current = lease.array();
            if (mergedNorm != null) {
                try (NDArray factor = magnitude.div(mergedNorm).reshape(-1, 1);
                     NDArray orig = current.div(factor).subi(delta)) {
                    return Optional.of(current.sub(orig));
                }
            }
            try (NDArray v = delta.add(current); NDArray n = rowNorm(v);
                 NDArray factor = magnitude.div(n).reshape(-1, 1)) {
                return Optional.of(v.mul(factor).subi(current));
            }
        }
    }

    @Override
    public void merge(LinearBase base) {
        if (mergedNorm != null) {
            throw new IllegalStateException(site.path() + ": DoRA adapter is already merged");
        }
        try (BaseWeight w = base.weight(); NDArray delta = loraDelta(); NDArray v = delta.add(w.array())) {
            NDArray n0 = rowNorm(v).stopGradient();
            try (NDArray factor = magnitude.div(n0).reshape(-1, 1)) {
                base.setWeight(v.mul(factor));
            }
            mergedNorm = n0;
        }
    }

    @Override
    public void unmerge(LinearBase base) {
        if (mergedNorm == null) {
            throw new IllegalStateException(site.path() + ": DoRA adapter is not merged, nothing to unmerge");
        }
        try (BaseWeight w = base.weight(); NDArray delta = loraDelta();
             NDArray factor = magnitude.div(mergedNorm).reshape(-1, 1)) {
            base.setWeight(w.array().div(factor).subi(delta));
        }
        mergedNorm.close();
        mergedNorm = null;
    }

    /** {@code s·B A} as a constant (no autograd history). */
    private NDArray loraDelta() {
        try (NDArray ba = loraB.matMul(loraA)) {
            return ba.mul(scaling).stopGradient();
        }
    }

    /** Row-wise L2 norm over the input dim: {@code [out, in] -> [out]}. */
    static NDArray rowNorm(NDArray v) {
        return v.norm(new int[] {1});
    }

    private static NDArray temp(NDArray a, ForwardContext ctx) {
        a.attach(ctx.manager());
        return a;
    }

    /** {@code lora_magnitude_vector} {@code m}, shape {@code [out]}. */
    public NDArray magnitude() {
        return magnitude;
    }

    /** True while folded into the base weight. */
    public boolean merged() {
        return mergedNorm != null;
    }
}
