package io.peft4j.api;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

/** Per-forward-pass state handed to every site module. */
public interface ForwardContext {

    /** True while training: dropout is active and auxiliary losses are collected. */
    boolean training();

    /**
     * Inverted dropout: in training, zeroes each element with probability {@code p} and scales the kept ones by
     * {@code 1/(1-p)}; identity in eval or when {@code p == 0}. Always use this instead of drawing masks yourself,
     * so runs are seeded and tests can inject the mask.
     */
    NDArray dropout(NDArray x, float p);

    /** Manager for temporaries of this pass (closed by the platform after the step). */
    NDManager manager();

    /** The platform's linear algebra ({@code linear}, decompositions). */
    LinearAlgebra linearAlgebra();

    /**
     * A 0-dim float32 constant whose memory torch owns. In differentiable code multiply, divide and raise to powers
     * with this instead of {@code NDArray.mul(Number)}, {@code div(Number)} or {@code pow(Number)}: on CPU, DJL
     * builds those scalars zero-copy over a Java direct buffer, which the garbage collector may free while autograd
     * still holds the scalar for the backward pass (seen as random NaN or wrong gradients).
     */
    default NDArray scalar(double value) {
        return manager().full(new ai.djl.ndarray.types.Shape(), (float) value);
    }
}
