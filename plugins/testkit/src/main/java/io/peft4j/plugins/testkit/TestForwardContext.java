package io.peft4j.plugins.testkit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.peft4j.api.ForwardContext;
import io.peft4j.api.LinearAlgebra;
import io.peft4j.linalg.EjmlLinearAlgebra;

/**
 * A forward context for plugin tests. In eval mode, or for {@code p <= 0}, dropout is the identity; in training
 * it applies an injected keep mask, scaling kept values by {@code 1/(1-p)} (inverted dropout, as torch does), so
 * golden cases that record the mask are reproducible. Training dropout without a mask is an error.
 */
public final class TestForwardContext implements ForwardContext {
    private final boolean training;
    private final NDManager manager;
    private final NDArray keepMask;

    /** {@code keepMask} may be null when the test never asks for dropout in training. */
    public TestForwardContext(boolean training, NDManager manager, NDArray keepMask) {
        this.training = training;
        this.manager = manager;
        this.keepMask = keepMask;
    }

    /** Eval mode: dropout is the identity. */
    public static TestForwardContext eval(NDManager manager) {
        return new TestForwardContext(false, manager, null);
    }

    /** Training mode with the given keep mask (null: dropout with {@code p > 0} fails). */
    public static TestForwardContext training(NDManager manager, NDArray keepMask) {
        return new TestForwardContext(true, manager, keepMask);
    }

    @Override
    public boolean training() {
        return training;
    }

    @Override
    public NDArray dropout(NDArray x, float p) {
        if (!training || p <= 0f) {
            return x;
        }
        if (keepMask == null) {
            throw new IllegalStateException("dropout requested in training but the test supplied no keep mask");
        }
        return x.mul(keepMask).mul(scalar(1.0 / (1.0 - p)));   // torch-owned scalar: see ForwardContext.scalar
    }

    @Override
    public LinearAlgebra linearAlgebra() {
        return EjmlLinearAlgebra.INSTANCE;
    }

    @Override
    public NDManager manager() {
        return manager;
    }
}
