package io.peft4j.api;

import ai.djl.ndarray.NDArray;
import java.util.Map;
import org.pf4j.ExtensionPoint;

/**
 * Stores frozen base weights compactly (e.g. NF4) and dequantizes them for compute.
 *
 * @param <O> the options record ({@code quantization: {method: ID, options: {...}}}), see {@link ExtensionOptions}
 */
public interface Quantizer<O extends ExtensionOptions> extends ExtensionPoint {

    /** The id used in configurations ({@code quantization: {method: nf4}}). */
    String id();

    /** One line for {@code peft4j plugins}. */
    String description();

    /** The options record type; the platform parses {@code quantization.options} into it and validates it. */
    Class<O> optionsType();

    /** Quantizes a float32 weight. Fails with a clear message for an empty tensor. */
    QuantizedWeight quantize(NDArray weight, O options);

    /**
     * Restores a weight saved by {@link QuantizedWeight#stateDict}; fails naming the key when a statistic does
     * not match the weight (e.g. absmax length).
     */
    QuantizedWeight load(String prefix, Map<String, NDArray> tensors);

    /** Whether {@code tensors} hold a weight of this format under {@code prefix}. */
    boolean recognizes(String prefix, Map<String, NDArray> tensors);
}
