package io.peft4j.plugins.adalora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import io.peft4j.api.ForwardContext;
import io.peft4j.api.LinearBase;
import io.peft4j.api.LinearSiteModule;
import io.peft4j.api.SiteInfo;
import java.util.Optional;

/**
 * AdaLoRA on one linear layer, as Hugging Face PEFT's {@code adalora.SVDLinear}: the update is kept in SVD form
 * {@code P Λ Q} with {@code Q = lora_A [r, in]}, {@code Λ = lora_E [r, 1]}, {@code P = lora_B [out, r]}:
 * <pre>
 *   y  = base(x) + ((drop(x) (A ⊙ E)^T) B^T) · scaling / (ranknum + 1e-5)      A ⊙ E: row i of A times E[i]
 *   ΔW = B (A ⊙ E) · scaling / (ranknum + 1e-5)
 *   scaling = lora_alpha (not alpha / r; the layer's rank when lora_alpha <= 0),  ranknum = init_r
 * </pre>
 * {@code ranknum} is the rank the adapter was created with: pruning (zeroing entries of E) and loading a resized
 * adapter ({@code rank} below {@code init_r}) never change it, so the scale is stable across save and load. Not
 * a {@code LowRankSite}: the update is {@code B diag(E) A}, not {@code s·B A} with trainable A and B alone.
 */
public final class AdaLoraLayer implements LinearSiteModule {
    private final SiteInfo site;
    private final int rank;
    private final float ranknum;
    private final float scaling;
    private final float dropout;
    private final NDArray loraA;   // [r, in]
    private final NDArray loraE;   // [r, 1]
    private final NDArray loraB;   // [out, r]

    AdaLoraLayer(SiteInfo site, int rank, int initR, float scaling, float dropout, NDArray loraA, NDArray loraE,
                 NDArray loraB) {
        this.site = site;
        this.rank = rank;
        this.ranknum = initR;
        this.scaling = scaling;
        this.dropout = dropout;
        this.loraA = loraA;
        this.loraE = loraE;
        this.loraB = loraB;
    }

    /** {@code ranknum + 1e-5} in float32, as PEFT adds the constant to its float32 {@code ranknum} parameter. */
    private float denominator() {
        return ranknum + 1e-5f;
    }

    @Override
    public NDArray forward(NDArray x, NDArray result, LinearBase base, ForwardContext ctx) {
        if (rank == 0) {
            return result;
        }
        NDArray h = ctx.dropout(x, dropout);
        NDArray scaled = loraA.mul(loraE);
        scaled.attach(ctx.manager());   // a temporary of this pass, not of the adapter's long-lived manager
        NDArray down = ctx.linearAlgebra().linear(h, scaled, null);
        NDArray up = ctx.linearAlgebra().linear(down, loraB, null);
        return result.add(up.mul(ctx.scalar(scaling)).div(ctx.scalar(denominator())));
    }

    @Override
    public Optional<NDArray> deltaWeight(LinearBase base) {
        try (NDArray scaled = loraA.mul(loraE)) {
            return Optional.of(loraB.matMul(scaled).mul(scaling).div(denominator()));
        }
    }

    /**
     * Merge and unmerge compute {@code W ± ΔW} in float64 and round once to float32 (as the LoRA plugin does), so
     * unmerge restores W as closely as float32 allows.
     */
    @Override
    public void merge(LinearBase base) {
        base.setWeight(base.withWeight(w -> addDelta(w, 1)));
    }

    @Override
    public void unmerge(LinearBase base) {
        base.setWeight(base.withWeight(w -> addDelta(w, -1)));
    }

    private NDArray addDelta(NDArray w, int sign) {
        DataType f64 = DataType.FLOAT64;
        try (NDArray a = loraA.toType(f64, true); NDArray e = loraE.toType(f64, true);
             NDArray b = loraB.toType(f64, true); NDArray w64 = w.toType(f64, true);
             NDArray ae = a.mul(e); NDArray delta = b.matMul(ae).muli(sign * (double) scaling / denominator());
             NDArray sum = w64.add(delta)) {
            return sum.toType(w.getDataType(), true);
        }
    }

    /** {@code lora_A [r, in]} (right singular vectors Q). */
    public NDArray loraA() {
        return loraA;
    }

    /** {@code lora_E [r, 1]} (singular values Λ; pruned entries are zero). */
    public NDArray loraE() {
        return loraE;
    }

    /** {@code lora_B [out, r]} (left singular vectors P). */
    public NDArray loraB() {
        return loraB;
    }

    /** Rows of A held in memory: {@code init_r}, or the kept rank of a loaded, resized adapter. */
    public int rank() {
        return rank;
    }

    /** The rank the adapter was created with; the denominator of the scale. */
    public float ranknum() {
        return ranknum;
    }

    public float scaling() {
        return scaling;
    }

    @Override
    public SiteInfo site() {
        return site;
    }

    /** Copies {@code src} into {@code dst} in place (so parameter references and gradients stay valid). */
    static void copyInto(NDArray dst, NDArray src) {
        if (dst.getShape().size() == 0) {
            return;   // a rank-0 module: nothing to copy (and an empty index would be rejected)
        }
        dst.set(new NDIndex("..."), src.toType(dst.getDataType(), false));
    }
}
