package io.peft4j.core.util;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * Scalar constants for differentiable code. DJL's {@code NDArray.mul(Number)}, {@code div(Number)} and
 * {@code pow(Number)} create the scalar zero-copy over a Java direct buffer (CPU); autograd saves that scalar for the
 * backward pass, but the buffer is freed whenever the garbage collector collects the closed Java wrapper - before
 * backward runs if a GC happens in between - and the gradient then reads freed memory (random NaN). A scalar made by
 * {@code full} lives in memory torch owns and reference-counts, so it is safe whatever the GC does.
 */
public final class Scalars {
    private Scalars() {
    }

    /** A 0-dim constant with {@code like}'s manager and data type. */
    public static NDArray of(NDArray like, double value) {
        return like.getManager().full(new Shape(), (float) value, like.getDataType());
    }
}
