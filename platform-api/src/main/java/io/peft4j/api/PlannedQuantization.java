package io.peft4j.api;

import java.util.Map;
import java.util.Objects;

/**
 * How the run will store the base linears once adapters are initialised: the configured {@link Quantizer} and its
 * options. Initializers that compensate quantization error (LoftQ) simulate it; others ignore it.
 */
public record PlannedQuantization(Quantizer quantizer, Map<String, Object> options) {
    public PlannedQuantization {
        Objects.requireNonNull(quantizer, "quantizer");
        options = options == null ? Map.of() : Map.copyOf(options);
    }
}
