package io.peft4j.api;

import ai.djl.ndarray.NDArray;

/**
 * A lease on a base layer's compute weight {@code W [out, in]} (float32), handed out by {@link LinearBase#weight()}.
 * Closing it releases exactly what the lease owns: nothing for the stored weight of a full-precision base, the
 * dequantized copy for a quantized one (unless that copy belongs to the forward pass in progress, which frees it).
 * Always use it in try-with-resources and do not keep {@link #array()} after {@link #close()}:
 * <pre>
 *   try (BaseWeight w = base.weight()) {
 *       base.setWeight(w.array().mul(scale));
 *   }
 * </pre>
 */
public interface BaseWeight extends AutoCloseable {

    /** The weight {@code [out, in]}. Do not modify it in place (use {@link LinearBase#setWeight}). */
    NDArray array();

    /** Releases what this lease owns; idempotent. */
    @Override
    void close();
}
