package io.peft4j.core.peft;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.peft4j.api.AdapterContext;
import io.peft4j.api.Initializer;
import io.peft4j.api.LinearAlgebra;
import io.peft4j.api.LinearBase;
import io.peft4j.api.ModelShape;
import io.peft4j.api.PlannedQuantization;
import io.peft4j.linalg.EjmlLinearAlgebra;
import java.util.Optional;
import java.util.function.Function;

/** The platform's {@link AdapterContext} over an {@link AdapterHost}. */
final class PlatformAdapterContext implements AdapterContext {
    private final AdapterHost host;
    private final NDManager manager;
    private final Function<String, Optional<Initializer>> initializers;
    private final long seed;
    private final PlannedQuantization<?> quantization;

    PlatformAdapterContext(AdapterHost host, NDManager manager, Function<String, Optional<Initializer>> initializers,
                           long seed, PlannedQuantization<?> quantization) {
        this.host = host;
        this.manager = manager;
        this.initializers = initializers;
        this.seed = seed;
        this.quantization = quantization;
    }

    @Override
    public Optional<PlannedQuantization<?>> plannedQuantization() {
        return Optional.ofNullable(quantization);
    }

    @Override
    public LinearAlgebra linearAlgebra() {
        return EjmlLinearAlgebra.INSTANCE;
    }

    @Override
    public NDManager manager() {
        return manager;
    }

    @Override
    public ModelShape modelShape() {
        return host.shape();
    }

    @Override
    public LinearBase linear(String path) {
        return host.linear(path);
    }

    @Override
    public Optional<Initializer> initializer(String initName) {
        return initializers.apply(initName);
    }

    @Override
    public long seed() {
        return seed;
    }

    @Override
    public Optional<Function<String, long[]>> tokenizer() {
        return host.tokenizer();
    }

    @Override
    public NDArray embed(long[] tokenIds) {
        return host.embed(tokenIds);
    }
}
