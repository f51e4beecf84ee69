package io.peft4j.plugins.testkit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.BaseWeight;
import io.peft4j.api.ForwardContext;
import io.peft4j.api.LinearBase;
import io.peft4j.api.LinearSiteModule;
import io.peft4j.api.SiteInfo;
import io.peft4j.api.SiteKind;
import io.peft4j.linalg.EjmlLinearAlgebra;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A linear layer {@code y = x W^T + b} for plugin tests (the platform's own layer lives in platform-core, which
 * plugins must not depend on). {@link #forward} applies the given adapters in order, each receiving the output so
 * far, and {@link #output} returns the base output of that call for its input, as the platform does.
 * {@link #setWeight} insists on the original shape.
 *
 * <p>{@link #quantized(String, NDArray, NDArray)} stands in for a quantized base with the platform's ownership
 * rules, losslessly: each lease outside {@link #forward} hands out a fresh copy and frees it on close, leases inside
 * a forward share the pass's copy. {@link #leasedCopies()} and {@link #openLeases()} let a test check that a plugin
 * closes what it leases.
 */
public final class TestLinearBase implements LinearBase {
    /** The site path tests use when the path itself does not matter. */
    public static final String Q_PROJ = "model.layers.0.self_attn.q_proj";

    private final SiteInfo site;
    private final boolean quantized;
    private NDArray weight;
    private NDArray bias;
    private NDArray passWeight;     // the forward pass's copy (quantized only)
    private NDArray callInput;
    private NDArray callOutput;
    private final List<NDArray> copies = new ArrayList<>();
    private int openLeases;

    /** A full-precision LINEAR site at {@code path} with weight {@code [out, in]} and an optional bias {@code [out]}. */
    public TestLinearBase(String path, NDArray weight, NDArray bias) {
        this(path, weight, bias, false);
    }

    private TestLinearBase(String path, NDArray weight, NDArray bias, boolean quantized) {
        long[] s = weight.getShape().getShape();
        this.site = new SiteInfo(path, SiteKind.LINEAR, (int) s[1], (int) s[0], 0, bias != null);
        this.weight = weight;
        this.bias = bias;
        this.quantized = quantized;
    }

    /** A simulated quantized base (see the class comment); {@code weight} plays the stored quantized weight. */
    public static TestLinearBase quantized(String path, NDArray weight, NDArray bias) {
        return new TestLinearBase(path, weight, bias, true);
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
        if (quantized && !adapters.isEmpty()) {   // tests run the bare base with a null context
            passWeight = weight.duplicate();
            passWeight.attach(ctx.manager());
        }
        NDArray y = EjmlLinearAlgebra.INSTANCE.linear(x, weight, bias);
        callInput = x;
        callOutput = y;
        try {
            for (LinearSiteModule a : adapters) {
                y = a.forward(x, y, this, ctx);
            }
            return y;
        } finally {
            passWeight = null;
            callInput = null;
            callOutput = null;
        }
    }

    @Override
    public SiteInfo site() {
        return site;
    }

    /** The stored weight, without a lease (for test assertions). */
    public NDArray rawWeight() {
        return weight;
    }

    @Override
    public BaseWeight weight() {
        NDArray w;
        boolean owned = false;
        if (!quantized) {
            w = weight;
        } else if (passWeight != null) {
            w = passWeight;
        } else {
            w = weight.duplicate();
            copies.add(w);
            owned = true;
        }
        openLeases++;
        boolean ownsCopy = owned;
        return new BaseWeight() {
            private boolean closed;

            @Override
            public NDArray array() {
                return w;
            }

            @Override
            public void close() {
                if (!closed) {
                    closed = true;
                    openLeases--;
                    if (ownsCopy) {
                        w.close();
                    }
                }
            }
        };
    }

    @Override
    public NDArray output(NDArray x, ForwardContext ctx) {
        return x == callInput ? callOutput : LinearBase.super.output(x, ctx);
    }

    /** The dequantized copies leases handed out so far (quantized only; empty for full precision). */
    public List<NDArray> leasedCopies() {
        return List.copyOf(copies);
    }

    /** Leases handed out and not closed yet. */
    public int openLeases() {
        return openLeases;
    }

    @Override
    public boolean quantized() {
        return quantized;
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
