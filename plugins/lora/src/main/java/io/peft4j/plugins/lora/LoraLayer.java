package io.peft4j.plugins.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.DataType;
import io.peft4j.api.ForwardContext;
import io.peft4j.api.LinearBase;
import io.peft4j.api.SiteInfo;
import java.util.Optional;

/**
 * LoRA on one linear layer (Hu et al. 2021), as Hugging Face PEFT's {@code lora.Linear}:
 * <pre>
 *   y = base(x) + s · ( B (A · drop(x)) + b_B )          A: [r, in], B: [out, r], b_B: [out] (lora_bias only)
 *   s = lora_alpha / r            (rsLoRA: lora_alpha / sqrt(r))
 *   merge:   W ← W + s·B A,  b ← b + s·b_B          unmerge: subtract
 * </pre>
 * {@code r} is the configured rank; the factors have {@code k <= r} rows/columns ({@code k < r} only when PiSSA
 * truncated them at {@code min(in, out)}, see {@link io.peft4j.api.Initializer#factorRank}).
 * Dropout applies only to the LoRA branch input; {@code b_B} sits inside {@code lora_B(...)} and is therefore
 * scaled by {@code s} too (PEFT behaviour).
 */
public final class LoraLayer extends LoraFactorLayer {
    private final NDArray loraBBias;  // [out] or null

    LoraLayer(SiteInfo site, int rank, float scaling, float dropout, NDArray loraA, NDArray loraB, NDArray loraBBias) {
        super(site, rank, scaling, dropout, loraA, loraB);
        this.loraBBias = loraBBias;
    }

    @Override
    public NDArray forward(NDArray x, NDArray result, LinearBase base, ForwardContext ctx) {
        NDArray h = ctx.dropout(x, dropout);
        NDArray down = ctx.linearAlgebra().linear(h, loraA, null);
        // s·(B h + b_B) computed as (s·B) h + s·b_B: scaling the [out, r] factor instead of the [..., out] output
        // saves one full-size elementwise pass per layer; gradients reach B and b_B through the scaled copies.
        NDArray s = ctx.scalar(scaling);
        NDArray scaledB = loraB.mul(s);
        if (loraBBias != null) {
            return result.add(ctx.linearAlgebra().linear(down, scaledB, loraBBias.mul(s)));
        }
        // result + down·(s·B)ᵀ as ONE addmm (torch's linear with a 2-D input and bias): the LoRA output is
        // accumulated into a copy of the base output by the GEMM itself, instead of being written out and then
        // added in a separate full-size pass.
        Shape outShape = result.getShape();
        NDArray down2d = down.reshape(-1, loraA.getShape().get(0));
        NDArray base2d = result.reshape(-1, outShape.get(outShape.dimension() - 1));
        return ctx.linearAlgebra().linear(down2d, scaledB, base2d).reshape(outShape);
    }

    @Override
    public Optional<NDArray> deltaWeight(LinearBase base) {
        return Optional.of(loraB.matMul(loraA).mul(scaling));
    }

    /**
     * Merge and unmerge compute {@code W ± s·B A} in float64 and round once to float32, so the merged layer is the
     * correctly rounded sum and unmerge restores W as closely as float32 allows.
     */
    @Override
    public void merge(LinearBase base) {
        base.setWeight(base.withWeight(w -> addDelta(w, 1)));
        if (loraBBias != null) {
            NDArray b = base.bias().orElseThrow(() -> new IllegalStateException(site.path()
                    + ": lora_bias needs a base layer with a bias to merge into"));
            base.setBias(b.add(loraBBias.mul(scaling)));
        }
    }

    @Override
    public void unmerge(LinearBase base) {
        base.setWeight(base.withWeight(w -> addDelta(w, -1)));
        if (loraBBias != null) {
            base.bias().ifPresent(b -> base.setBias(b.sub(loraBBias.mul(scaling))));
        }
    }

    private NDArray addDelta(NDArray w, int sign) {
        DataType f64 = DataType.FLOAT64;
        try (NDArray a = loraA.toType(f64, true); NDArray b = loraB.toType(f64, true);
             NDArray w64 = w.toType(f64, true); NDArray delta = b.matMul(a).muli(sign * (double) scaling);
             NDArray sum = w64.add(delta)) {
            return sum.toType(w.getDataType(), true);
        }
    }

    /** The bias of {@code lora_B}, or null without {@code lora_bias}. */
    public NDArray loraBBias() {
        return loraBBias;
    }
}
