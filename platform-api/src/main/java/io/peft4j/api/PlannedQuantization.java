package io.peft4j.api;

import ai.djl.ndarray.NDArray;
import java.util.Objects;

/**
 * A {@link Quantizer} with its parsed options: how the run stores (or will store, once adapters are initialised)
 * the base linears. Initializers that compensate quantization error (LoftQ) simulate it; others ignore it.
 *
 * @param <O> the quantizer's options type
 */
public record PlannedQuantization<O extends ExtensionOptions>(Quantizer<O> quantizer, O options) {
    public PlannedQuantization {
        Objects.requireNonNull(quantizer, "quantizer");
        Objects.requireNonNull(options, "options");
    }

    /** {@code quantizer.quantize(weight, options)}. */
    public QuantizedWeight quantize(NDArray weight) {
        return quantizer.quantize(weight, options);
    }
}
