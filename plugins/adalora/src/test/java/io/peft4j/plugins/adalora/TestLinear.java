package io.peft4j.plugins.adalora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.peft4j.api.ForwardContext;
import io.peft4j.api.LinearBase;
import io.peft4j.api.LinearSiteModule;
import io.peft4j.api.SiteInfo;
import io.peft4j.api.SiteKind;
import java.util.List;
import java.util.Optional;

/**
 * A plain full-precision linear layer {@code y = x W^T + b} for plugin tests (the platform's own layer lives in
 * platform-core, which plugins must not depend on). Forward applies the given adapters in order, each receiving
 * the output so far, as the platform does.
 */
final class TestLinear implements LinearBase {
    private final SiteInfo site;
    private NDArray weight;
    private NDArray bias;

    TestLinear(String path, NDArray weight, NDArray bias) {
        long[] s = weight.getShape().getShape();
        this.site = new SiteInfo(path, SiteKind.LINEAR, (int) s[1], (int) s[0], 0, bias != null);
        this.weight = weight;
        this.bias = bias;
    }

    static TestLinear random(NDManager m, String path, int out, int in) {
        return new TestLinear(path, m.randomNormal(new ai.djl.ndarray.types.Shape(out, in)), null);
    }

    NDArray forward(NDArray x, List<? extends LinearSiteModule> adapters, ForwardContext ctx) {
        NDArray y = x.getNDArrayInternal().linear(x, weight, bias).singletonOrThrow();
        for (LinearSiteModule a : adapters) {
            y = a.forward(x, y, this, ctx);
        }
        return y;
    }

    @Override
    public SiteInfo site() {
        return site;
    }

    @Override
    public NDArray weight() {
        return weight;
    }

    @Override
    public Optional<NDArray> bias() {
        return Optional.ofNullable(bias);
    }

    @Override
    public void setWeight(NDArray w) {
        if (!w.getShape().equals(weight.getShape())) {
            throw new IllegalArgumentException(site.path() + ": weight must be " + weight.getShape() + ", got "
                    + w.getShape());
        }
        weight = w;
    }

    @Override
    public void setBias(NDArray b) {
        if (bias == null) {
            throw new IllegalStateException(site.path() + " has no bias");
        }
        bias = b;
    }
}
