package io.peft4j.core.model;

import ai.djl.ndarray.NDArray;
import io.peft4j.api.PlannedQuantization;
import io.peft4j.api.QuantizedWeight;
import io.peft4j.api.Quantizer;
import java.util.Map;
import java.util.Optional;

/**
 * Lets {@link LlamaModel#load(java.nio.file.Path, ai.djl.ndarray.NDManager, boolean, QuantizedLinearResolver)}
 * read linears stored quantized (e.g. a bitsandbytes NF4 checkpoint: uint8 {@code weight} plus
 * {@code weight.absmax}, {@code weight.quant_map}, ... and {@code weight.quant_state.bitsandbytes__nf4}) without the
 * model package knowing any quantizer: the run layer passes one backed by the installed {@link Quantizer}s.
 */
@FunctionalInterface
public interface QuantizedLinearResolver {

    /**
     * Restores the weight under {@code prefix} (e.g. {@code model.layers.0.mlp.up_proj.}) from {@code tensors}
     * (every checkpoint tensor whose name starts with {@code prefix + "weight"}; they live in the model's manager and
     * are closed by the loader afterwards), or empty when no installed quantizer recognises the format.
     *
     * @throws IllegalArgumentException naming the key when the stored statistics are inconsistent
     */
    Optional<Resolved> resolve(String prefix, Map<String, NDArray> tensors);

    /** A restored weight and the quantizer (with options) that re-quantizes it when the layer is changed. */
    record Resolved(QuantizedWeight weight, PlannedQuantization<?> quantization) {
    }

    /** A resolver over the given quantizers, asked in order; {@code options} binds each to its re-quantize options. */
    static QuantizedLinearResolver of(Iterable<? extends Quantizer<?>> quantizers,
                                      java.util.function.Function<Quantizer<?>, PlannedQuantization<?>> options) {
        return (prefix, tensors) -> {
            for (Quantizer<?> q : quantizers) {
                if (q.recognizes(prefix, tensors)) {
                    return Optional.of(new Resolved(q.load(prefix, tensors), options.apply(q)));
                }
            }
            return Optional.empty();
        };
    }
}
