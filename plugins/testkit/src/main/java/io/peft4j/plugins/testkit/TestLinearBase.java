package io.peft4j.plugins.testkit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.ForwardContext;
import io.peft4j.api.LinearBase;
import io.peft4j.api.LinearSiteModule;
import io.peft4j.api.SiteInfo;
import io.peft4j.api.SiteKind;
import io.peft4j.linalg.EjmlLinearAlgebra;
import java.util.List;
import java.util.Optional;

/**
 * A plain full-precision linear layer {@code y = x W^T + b} for plugin tests (the platform's own layer lives in
 * platform-core, which plugins must not depend on). {@link #forward} applies the given adapters in order, each
 * receiving the output so far, as the platform does. {@link #setWeight} insists on the original shape.
 */
public final class TestLinearBase implements LinearBase {
    /** The site path tests use when the path itself does not matter. */
    public static final String Q_PROJ = "model.layers.0.self_attn.q_proj";

    private final SiteInfo site;
    private NDArray weight;
    private NDArray bias;

    /** A LINEAR site at {@code path} with weight {@code [out, in]} and an optional bias {@code [out]}. */
    public TestLinearBase(String path, NDArray weight, NDArray bias) {
        long[] s = weight.getShape().getShape();
        this.site = new SiteInfo(path, SiteKind.LINEAR, (int) s[1], (int) s[0], 0, bias != null);
        this.weight = weight;
        this.bias = bias;
    }

    /** A bias-free layer at {@link #Q_PROJ}. */
    public static TestLinearBase of(NDArray weight) {
        return new TestLinearBase(Q_PROJ, weight, null);
    }

    /** A bias-free layer with a standard-normal weight {@code [out, in]}. */
    public static TestLinearBase random(NDManager m, String path, int out, int in) {
        return new TestLinearBase(path, m.randomNormal(new Shape(out, in)), null);
    }

    /** {@code x W^T + b}, then each adapter's {@code forward(x, y, this, ctx)} in order. */
    public NDArray forward(NDArray x, List<? extends LinearSiteModule> adapters, ForwardContext ctx) {
        NDArray y = EjmlLinearAlgebra.INSTANCE.linear(x, weight, bias);
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
