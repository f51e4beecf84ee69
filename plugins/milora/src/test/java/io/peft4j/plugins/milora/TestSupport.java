package io.peft4j.plugins.milora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.AdapterContext;
import io.peft4j.api.ForwardContext;
import io.peft4j.api.Initializer;
import io.peft4j.api.LinearBase;
import io.peft4j.api.LowRankSite;
import io.peft4j.api.ModelShape;
import io.peft4j.api.SiteInfo;
import io.peft4j.api.SiteKind;
import java.util.Optional;
import java.util.function.Function;

/**
 * Minimal platform-side objects for initializer tests (plugins must not depend on platform-core): a full-precision
 * linear base, a plain {@code s·B A} site, and a creation context that only offers a manager.
 */
final class TestSupport {
    private TestSupport() {
    }

    static final class Linear implements LinearBase {
        private final SiteInfo site;
        private NDArray weight;

        Linear(NDArray weight) {
            long[] s = weight.getShape().getShape();
            this.site = new SiteInfo("model.layers.0.self_attn.q_proj", SiteKind.LINEAR, (int) s[1], (int) s[0], 0,
                    false);
            this.weight = weight;
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
            return Optional.empty();
        }

        @Override
        public void setWeight(NDArray w) {
            weight = w;
        }

        @Override
        public void setBias(NDArray b) {
            throw new IllegalStateException("no bias");
        }
    }

    static final class Site implements LowRankSite {
        private final SiteInfo site;
        private final NDArray a;
        private final NDArray b;
        private final float scaling;

        Site(NDManager m, SiteInfo site, int r, float scaling) {
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

        @Override
        public NDArray forward(NDArray x, NDArray result, LinearBase base, ForwardContext ctx) {
            throw new UnsupportedOperationException();
        }

        @Override
        public Optional<NDArray> deltaWeight(LinearBase base) {
            return Optional.of(b.matMul(a).mul(scaling));
        }

        @Override
        public void merge(LinearBase base) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void unmerge(LinearBase base) {
            throw new UnsupportedOperationException();
        }

        @Override
        public SiteInfo site() {
            return site;
        }
    }

    record Context(NDManager manager) implements AdapterContext {
        @Override
        public ModelShape modelShape() {
            return new ModelShape(16, 1, 1, 1, 16, 32, 64);
        }

        @Override
        public LinearBase linear(String path) {
            throw new UnsupportedOperationException();
        }

        @Override
        public Optional<Initializer> initializer(String initName) {
            return Optional.empty();
        }

        @Override
        public long seed() {
            return 0;
        }

        @Override
        public Optional<Function<String, long[]>> tokenizer() {
            return Optional.empty();
        }

        @Override
        public NDArray embed(long[] tokenIds) {
            throw new UnsupportedOperationException();
        }
    }

    static double maxAbsDiff(NDArray x, NDArray y) {
        return x.sub(y).abs().max().getFloat();
    }
}
