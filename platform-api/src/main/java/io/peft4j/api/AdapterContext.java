package io.peft4j.api;

import ai.djl.ndarray.NDManager;
import java.util.Optional;

/** What the platform offers an {@link Adapter} while it creates an instance. */
public interface AdapterContext {

    /** Long-lived manager that owns the adapter's tensors. */
    NDManager manager();

    /** The platform's linear algebra (SVD, QR, {@code linear}) for initialisations. */
    LinearAlgebra linearAlgebra();

    /** Architecture numbers of the base model. */
    ModelShape modelShape();

    /** The base layer at a LINEAR site, for initialisations that read (DoRA) or rewrite (PiSSA) the weight. */
    LinearBase linear(String path);

    /**
     * An installed {@link Initializer} that handles the given {@code init_lora_weights} value (e.g. {@code pissa},
     * {@code pissa_niter_4}, {@code milora}), if any.
     */
    Optional<Initializer> initializer(String initName);

    /**
     * The quantization the base linears will get after the adapters are initialised (the run's {@code quantization}
     * section), or empty for a full-precision base. Initializers see the full-precision weight either way.
     */
    default Optional<PlannedQuantization<?>> plannedQuantization() {
        return Optional.empty();
    }

    /** The run's seed. The platform has already seeded the engine's generator before calling the adapter. */
    long seed();

    /** Text encoding for methods that initialise from text (prompt tuning); empty if no tokenizer is loaded. */
    Optional<java.util.function.Function<String, long[]>> tokenizer();

    /** Embedding rows for the given token ids, {@code [n, hidden]} (prompt tuning init from text). */
    ai.djl.ndarray.NDArray embed(long[] tokenIds);
}
