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
 * Merge folds {@code l} into the rows (output) or columns (input) of W.
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
            NDArray xs = x.mul(lm1);
            return result.add(ctx.linearAlgebra().linear(xs, base.weight(), null));
        }
        NDArray baseOut = ctx.linearAlgebra().linear(x, base.weight(), base.bias().orElse(null));
        return result.add(baseOut.mul(lm1));
    }

    @Override
    public Optional<NDArray> deltaWeight(LinearBase base) {
        NDArray w = base.weight();
        NDArray lm1 = l.reshape(-1).sub(1f);
        return Optional.of(feedforward ? w.mul(lm1.reshape(1, -1)) : w.mul(lm1.reshape(-1, 1)));
    }

    @Override
    public void merge(LinearBase base) {
        NDArray w = base.weight();
        if (feedforward) {
            base.setWeight(w.mul(l.reshape(1, -1)));
        } else {
            base.setWeight(w.mul(l.reshape(-1, 1)));
            base.bias().ifPresent(b -> base.setBias(b.mul(l.reshape(-1))));
        }
    }

    @Override
    public void unmerge(LinearBase base) {
        NDArray w = base.weight();
        if (feedforward) {
            base.setWeight(w.div(l.reshape(1, -1)));
        } else {
            base.setWeight(w.div(l.reshape(-1, 1)));
            base.bias().ifPresent(b -> base.setBias(b.div(l.reshape(-1))));
        }
    }

    @Override
    public SiteInfo site() {
        return site;
    }
}
