package io.peft4j.core.prune;

import ai.djl.ndarray.NDArray;
import io.peft4j.api.BaseWeight;
import io.peft4j.api.QuantizedWeight;
import io.peft4j.core.model.AdaptableLinear;
import io.peft4j.core.model.LlamaModel;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;

/**
 * 0/1 masks {@code [out, in]} per pruned linear (path → mask). {@link #apply} sets {@code W ← W ⊙ M}; it is idempotent,
 * so it can be re-applied whenever something (a merge) may have written into pruned positions.
 */
public final class PruningMasks implements AutoCloseable {
    private final Map<String, NDArray> masks;

    PruningMasks(Map<String, NDArray> masks) {
        this.masks = Collections.unmodifiableMap(new LinkedHashMap<>(masks));
    }

    public Map<String, NDArray> masks() {
        return masks;
    }

    public boolean isEmpty() {
        return masks.isEmpty();
    }

    /**
     * Applies the masks to the model's current base weights.
     *
     * @param requantize for a quantized base: re-quantizes the masked float weight (the quantizer of the run); may be
     *                   null when no linear is quantized
     * @throws IllegalStateException if a linear is quantized and no {@code requantize} is given
     */
    public void apply(LlamaModel model, Function<NDArray, QuantizedWeight> requantize) {
        for (Map.Entry<String, NDArray> e : masks.entrySet()) {
            AdaptableLinear l = model.linear(e.getKey());
            if (l.quantized()) {
                if (requantize == null) {
                    throw new IllegalStateException(e.getKey() + ": base is quantized; masks need the quantizer");
                }
                try (BaseWeight w = l.weight(); NDArray masked = w.array().mul(e.getValue())) {
                    l.setQuantizedWeight(requantize.apply(masked));
                }
            } else {
                NDArray masked = l.rawWeight().mul(e.getValue());
                masked.attach(model.manager());
                l.setWeight(masked);
            }
        }
    }

    @Override
    public void close() {
        masks.values().forEach(NDArray::close);
    }
}
