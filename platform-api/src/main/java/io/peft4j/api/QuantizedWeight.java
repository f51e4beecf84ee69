package io.peft4j.api;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.Map;

/** A frozen base weight stored in a compact format. */
public interface QuantizedWeight extends AutoCloseable {

    /** The logical shape, e.g. {@code [out, in]}. */
    long[] shape();

    /** Dequantizes to float32 in {@code manager}. */
    NDArray dequantize(NDManager manager);

    /** Bytes actually held (packed data plus statistics). */
    long storageBytes();

    /**
     * Tensors to save under {@code prefix} (e.g. {@code model.layers.0.mlp.up_proj.}), in the
     * bitsandbytes / transformers layout ({@code weight}, {@code weight.absmax}, ...).
     */
    Map<String, NDArray> stateDict(String prefix);

    @Override
    void close();
}
