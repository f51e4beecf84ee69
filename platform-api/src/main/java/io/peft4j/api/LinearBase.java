package io.peft4j.api;

import ai.djl.ndarray.NDArray;
import java.util.Optional;

/**
 * The frozen base linear layer under an adapter: {@code base(x) = x W^T + b}, {@code W} of shape {@code [out, in]}.
 * If the base is quantized, {@link #weight()} returns a dequantized float32 copy and {@link #setWeight} re-quantizes.
 */
public interface LinearBase {

    SiteInfo site();

    /** The compute weight {@code [out, in]}, float32. Do not modify it in place; use {@link #setWeight}. */
    NDArray weight();

    /** The bias {@code [out]}, if the layer has one. */
    Optional<NDArray> bias();

    /** Replaces the base weight (merging, or PiSSA/MiLoRA writing the residual). Shape must be {@code [out, in]}. */
    void setWeight(NDArray weight);

    /** Replaces the bias; fails if the layer has none. */
    void setBias(NDArray bias);

    /** True when the base weight is stored quantized (so writes are lossy). */
    default boolean quantized() {
        return false;
    }
}
