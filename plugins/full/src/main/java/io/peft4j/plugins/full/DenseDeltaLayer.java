package io.peft4j.plugins.full;

import ai.djl.ndarray.NDArray;
import io.peft4j.api.ForwardContext;
import io.peft4j.api.LinearBase;
import io.peft4j.api.LinearSiteModule;
import io.peft4j.api.SiteInfo;
import java.util.Optional;

/**
 * Full fine-tuning of one linear layer, expressed as a trainable dense update on the frozen (possibly memory-mapped
 * or quantized) base: {@code y = base(x) + x ΔW^T}, {@code ΔW [out, in]} starting at zero, so the trained layer is
 * exactly {@code W + ΔW}. With AdamW this equals training W directly except that weight decay pulls W toward its
 * pretrained value rather than toward zero. The extra matmul costs one more forward/backward of the layer.
 */
final class DenseDeltaLayer implements LinearSiteModule {
    private final SiteInfo site;
    final NDArray delta;

    DenseDeltaLayer(SiteInfo site, NDArray delta) {
        this.site = site;
        this.delta = delta;
    }

    @Override
    public NDArray forward(NDArray x, NDArray result, LinearBase base, ForwardContext ctx) {
        return result.add(ctx.linearAlgebra().linear(x, delta, null));
    }

    @Override
    public Optional<NDArray> deltaWeight(LinearBase base) {
        return Optional.of(delta.duplicate());
    }

    @Override
    public void merge(LinearBase base) {
        base.setWeight(base.withWeight(w -> w.add(delta)));
    }

    @Override
    public void unmerge(LinearBase base) {
        base.setWeight(base.withWeight(w -> w.sub(delta)));
    }

    @Override
    public SiteInfo site() {
        return site;
    }
}
