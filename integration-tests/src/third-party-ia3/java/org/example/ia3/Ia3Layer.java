package org.example.ia3;

import ai.djl.ndarray.NDArray;
import io.peft4j.api.ForwardContext;
import io.peft4j.api.LinearBase;
import io.peft4j.api.LinearSiteModule;
import io.peft4j.api.SiteInfo;
import java.util.Optional;

/**
 * IA3 (Liu et al. 2022) on one linear layer: a learned vector {@code l} rescales activations.
 * <pre>
 *   output scaling (attention k/v):   y = (x W^T + b) ⊙ l            l: [out, 1] (PEFT's shape)
 *   input scaling (feed-forward):     y = (x ⊙ l) W^T + b            l: [1, in]
 * </pre>
 * Written additively on top of the output so far: {@code y + (y_base ⊙ (l - 1))} resp. {@code y + (x ⊙ (l - 1)) W^T}.
 * {@code y_base} is {@link LinearBase#output}, the base output the platform already computed for this call, and
 * {@code (x ⊙ (l - 1)) W^T} is {@link LinearBase#project}, so the layer never touches W in a forward pass. Merge folds
 * {@code l} into the rows (output) or columns (input) of W, reading W through a lease ({@link LinearBase#weight()}),
 * which frees the dequantized copy of a quantized base when it closes.
 */
final class Ia3Layer implements LinearSiteModule {
    private final SiteInfo site;
    private final boolean feedforward;
    final NDArray l;

    Ia3Layer(SiteInfo site, boolean feedforward, NDArray l) {
        this.site = site;
        this.feedforward = feedforward;
        this.l = l;
    }

    @Override
    public NDArray forward(NDArray x, NDArray result, LinearBase base, ForwardContext ctx) {
        NDArray lm1 = l.reshape(-1).sub(1f);
        if (feedforward) {
            return result.add(base.project(x.mul(lm1), ctx));
        }
        return result.add(base.output(x, ctx).mul(lm1));
    }

    @Override
    public Optional<NDArray> deltaWeight(LinearBase base) {
        NDArray lm1 = l.reshape(-1).sub(1f);
        return Optional.of(base.withWeight(w -> w.mul(feedforward ? lm1.reshape(1, -1) : lm1.reshape(-1, 1))));
    }

    @Override
    public void merge(LinearBase base) {
        NDArray scale = feedforward ? l.reshape(1, -1) : l.reshape(-1, 1);
        base.setWeight(base.withWeight(w -> w.mul(scale)));
        if (!feedforward) {
            base.bias().ifPresent(b -> base.setBias(b.mul(l.reshape(-1))));
        }
    }

    @Override
    public void unmerge(LinearBase base) {
        NDArray scale = feedforward ? l.reshape(1, -1) : l.reshape(-1, 1);
        base.setWeight(base.withWeight(w -> w.div(scale)));
        if (!feedforward) {
            base.bias().ifPresent(b -> base.setBias(b.div(l.reshape(-1))));
        }
    }

    @Override
    public SiteInfo site() {
        return site;
    }
}
