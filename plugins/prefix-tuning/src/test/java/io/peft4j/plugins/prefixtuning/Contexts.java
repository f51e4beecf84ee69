package io.peft4j.plugins.prefixtuning;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.peft4j.api.AdapterContext;
import io.peft4j.api.ForwardContext;
import io.peft4j.api.Initializer;
import io.peft4j.api.LinearBase;
import io.peft4j.api.ModelShape;
import java.util.Optional;
import java.util.function.Function;

/** Minimal platform contexts for unit tests: a model shape, an optional tokenizer, an embedding table. */
final class Contexts {
    private Contexts() {
    }

    static final class Creation implements AdapterContext {
        final NDManager manager;
        final ModelShape shape;
        final Function<String, long[]> tokenizer;
        final NDArray embeddings;

        Creation(NDManager manager, ModelShape shape, Function<String, long[]> tokenizer, NDArray embeddings) {
            this.manager = manager;
            this.shape = shape;
            this.tokenizer = tokenizer;
            this.embeddings = embeddings;
        }

        @Override
        public NDManager manager() {
            return manager;
        }

        @Override
        public ModelShape modelShape() {
            return shape;
        }

        @Override
        public LinearBase linear(String path) {
            throw new UnsupportedOperationException("no linear layers here");
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
            return Optional.ofNullable(tokenizer);
        }

        @Override
        public NDArray embed(long[] tokenIds) {
            return embeddings.get(new ai.djl.ndarray.index.NDIndex("{}", manager.create(tokenIds)));
        }
    }

    /** Eval-mode forward context (dropout is the identity). */
    record Eval(NDManager manager) implements ForwardContext {
        @Override
        public boolean training() {
            return false;
        }

        @Override
        public NDArray dropout(NDArray x, float p) {
            return x;
        }
    }
}
