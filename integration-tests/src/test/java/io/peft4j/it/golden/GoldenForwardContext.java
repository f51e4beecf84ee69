package io.peft4j.it.golden;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.peft4j.api.ForwardContext;

/** A forward context whose dropout uses the keep-mask a golden case supplies (kept values scaled by 1/(1-p)). */
final class GoldenForwardContext implements ForwardContext {
    private final boolean training;
    private final NDManager manager;
    private final NDArray keepMask;

    GoldenForwardContext(boolean training, NDManager manager, NDArray keepMask) {
        this.training = training;
        this.manager = manager;
        this.keepMask = keepMask;
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
            throw new IllegalStateException("dropout requested in training but the case supplies no dropout_keep_mask");
        }
        return x.mul(keepMask).mul(1f / (1f - p));
    }

    @Override
    public NDManager manager() {
        return manager;
    }
}
