package io.peft4j.core.quant;

/**
 * Result of quantizing a model's base linears: the quantizer, how many parameters it holds and in how many bytes
 * (sum of {@code QuantizedWeight.storageBytes()}), bits per parameter ({@code 8 · bytes / params}), and the logit
 * change against the model before quantization on the probe batch (null when not measured).
 */
public record QuantizationReport(String method, int linears, long parameters, long storageBytes,
                                 OutputChange change) {

    public double bitsPerParameter() {
        return parameters == 0 ? 0 : 8.0 * storageBytes / parameters;
    }
}
