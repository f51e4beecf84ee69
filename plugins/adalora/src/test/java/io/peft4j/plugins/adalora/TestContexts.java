package io.peft4j.plugins.adalora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.peft4j.api.AdapterContext;
import io.peft4j.api.ForwardContext;
import io.peft4j.api.Initializer;
import io.peft4j.api.LinearBase;
import io.peft4j.api.ModelShape;
import io.peft4j.api.SiteInfo;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/** The platform-side contexts a plugin sees, implemented over {@link TestLinear} layers. */
final class TestContexts {
    private TestContexts() {
    }

    /** Creation context over the given layers, with optional initializers. */
    static final class Creation implements AdapterContext {
        private final NDManager manager;
        final Map<String, TestLinear> layers = new LinkedHashMap<>();
        private final List<Initializer> initializers;

        Creation(NDManager manager, List<Initializer> initializers, TestLinear... layers) {
            this.manager = manager;
            this.initializers = initializers;
            for (TestLinear l : layers) {
                this.layers.put(l.site().path(), l);
            }
        }

        List<SiteInfo> sites() {
            return layers.values().stream().map(TestLinear::site).toList();
        }

        @Override
        public NDManager manager() {
            return manager;
        }

        @Override
        public ModelShape modelShape() {
            return new ModelShape(16, 1, 1, 1, 16, 32, 64);
        }

        @Override
        public LinearBase linear(String path) {
            return layers.get(path);
        }

        @Override
        public Optional<Initializer> initializer(String initName) {
            return initializers.stream().filter(i -> i.handles(initName)).findFirst();
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
            throw new UnsupportedOperationException("no embeddings in linear-layer tests");
        }
    }

    /** Forward context whose dropout uses an injected keep mask (kept values scaled by 1/(1-p)). */
    static final class Forward implements ForwardContext {
        private final boolean training;
        private final NDManager manager;
        private final NDArray keepMask;

        Forward(boolean training, NDManager manager, NDArray keepMask) {
            this.training = training;
            this.manager = manager;
            this.keepMask = keepMask;
        }

        @Override
        public boolean training() {
            return training;
        }

        @Override
        public NDArray dropout(NDArray x, float p) {
            if (!training || p <= 0f) {
                return x;
            }
            if (keepMask == null) {
                throw new IllegalStateException("dropout requested but the test supplied no keep mask");
            }
            return x.mul(keepMask).mul(1f / (1f - p));
        }

        @Override
        public NDManager manager() {
            return manager;
        }
    }
}
