package io.peft4j.plugins.testkit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.ForwardContext;
import io.peft4j.api.LinearBase;
import io.peft4j.api.LowRankSite;
import io.peft4j.api.SiteInfo;
import java.util.Optional;

/**
 * A plain {@code ΔW = s·B A} site for initializer tests: zero factors {@code A [r, in]}, {@code B [out, r]} that
 * {@link #setFactors} overwrites in place. Only the parts an initializer touches are implemented; forward, merge
 * and unmerge are unsupported.
 */
public final class TestLowRankSite implements LowRankSite {
    private final SiteInfo site;
    private final NDArray a;
    private final NDArray b;
    private final float scaling;

    public TestLowRankSite(NDManager m, SiteInfo site, int r, float scaling) {
        this.site = site;
        this.a = m.zeros(new Shape(r, site.inFeatures()));
        this.b = m.zeros(new Shape(site.outFeatures(), r));
        this.scaling = scaling;
    }

    @Override
    public NDArray loraA() {
        return a;
    }

    @Override
    public NDArray loraB() {
        return b;
    }

    @Override
    public int rank() {
        return (int) a.getShape().get(0);
    }

    @Override
    public float scaling() {
        return scaling;
    }

    @Override
    public void setFactors(NDArray loraA, NDArray loraB) {
        a.set(new NDIndex("..."), loraA);
        b.set(new NDIndex("..."), loraB);
    }

    /** {@code s·B A}. */
    @Override
    public Optional<NDArray> deltaWeight(LinearBase base) {
        return Optional.of(b.matMul(a).mul(scaling));
    }

    @Override
    public NDArray forward(NDArray x, NDArray result, LinearBase base, ForwardContext ctx) {
        throw new UnsupportedOperationException("TestLowRankSite serves initializer tests only");
    }

    @Override
    public void merge(LinearBase base) {
        throw new UnsupportedOperationException("TestLowRankSite serves initializer tests only");
    }

    @Override
    public void unmerge(LinearBase base) {
        throw new UnsupportedOperationException("TestLowRankSite serves initializer tests only");
    }

    @Override
    public SiteInfo site() {
        return site;
    }
}
