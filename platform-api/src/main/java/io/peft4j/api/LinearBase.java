package io.peft4j.api;

import ai.djl.ndarray.NDArray;
import java.util.Optional;
import java.util.function.Function;

/**
 * The frozen base linear layer under an adapter: {@code base(x) = x W^T + b}, {@code W} of shape {@code [out, in]}.
 *
 * <p><b>Ownership.</b> {@link #weight()} hands out a {@link BaseWeight} lease; closing it frees exactly what it owns:
 * <ul>
 *   <li>full-precision base: the lease is the stored weight and closing it frees nothing;</li>
 *   <li>quantized base: the lease holds a dequantized float32 copy, freed on close (inside a forward pass, the
 *       pass's own dequantized weight, which the pass frees, so no second dequantization happens).</li>
 * </ul>
 * So every caller writes the same code whatever the base: {@code try (BaseWeight w = base.weight()) { ... }} or
 * {@link #withWeight}. Arrays computed <em>from</em> the lease's array (products, sums) are the caller's, as usual.
 * {@link #setWeight} takes ownership of its argument and, for a quantized base, re-quantizes it.
 *
 * <p><b>Outputs.</b> Methods that need the base layer's output do not multiply by the weight themselves:
 * {@link #output} is {@code x W^T + b} and is free when {@code x} is the input of the layer call in progress (the
 * platform computed it before calling the adapters); {@link #project} is {@code x W^T} without bias, for inputs the
 * adapter transformed (IA3's input scaling, DoRA's dropout branch).
 */
public interface LinearBase {

    SiteInfo site();

    /**
     * A lease on the compute weight {@code [out, in]}, float32; close it (try-with-resources). Do not modify the array
     * in place; use {@link #setWeight}.
     */
    BaseWeight weight();

    /** {@code fn(W)} under a lease that is closed afterwards; {@code fn} must not return {@code W} itself. */
    default <T> T withWeight(Function<NDArray, T> fn) {
        try (BaseWeight w = weight()) {
            return fn.apply(w.array());
        }
    }

    /**
     * {@code x W^T + b} ({@code x [..., in]} to {@code [..., out]}). When {@code x} is the very array the platform
     * passed to {@link LinearSiteModule#forward} as the layer input, this is the base output the platform already
     * computed for this call (the same array: do not modify it in place); otherwise it is computed.
     */
    default NDArray output(NDArray x, ForwardContext ctx) {
        try (BaseWeight w = weight()) {
            return ctx.linearAlgebra().linear(x, w.array(), bias().orElse(null));
        }
    }

    /** {@code x W^T} without the bias ({@code x [..., in]} to {@code [..., out]}), differentiable in {@code x}. */
    default NDArray project(NDArray x, ForwardContext ctx) {
        try (BaseWeight w = weight()) {
            return ctx.linearAlgebra().linear(x, w.array(), null);
        }
    }

    /** The bias {@code [out]}, if the layer has one. */
    Optional<NDArray> bias();

    /**
     * Replaces the base weight (merging, or PiSSA/MiLoRA writing the residual); the layer takes ownership of
     * {@code weight}. Shape must be {@code [out, in]}. For a quantized base it is re-quantized (lossy).
     */
    void setWeight(NDArray weight);

    /** Replaces the bias; fails if the layer has none. */
    void setBias(NDArray bias);

    /** True when the base weight is stored quantized (so writes are lossy). */
    default boolean quantized() {
        return false;
    }
}
