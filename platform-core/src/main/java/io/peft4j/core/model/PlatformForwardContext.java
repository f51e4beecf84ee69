package io.peft4j.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.peft4j.api.ForwardContext;

/**
 * The platform's {@link ForwardContext}. Dropout masks come from the engine's seeded generator
 * ({@code randomUniform}), so a run with the same seed draws the same masks.
 */
public class PlatformForwardContext implements ForwardContext {
    private final boolean training;
    private final NDManager manager;

    public PlatformForwardContext(boolean training, NDManager manager) {
        this.training = training;
        this.manager = manager;
    }

    public static PlatformForwardContext eval(NDManager manager) {
        return new PlatformForwardContext(false, manager);
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
        if (p >= 1f) {
            return x.zerosLike();
        }
        NDArray keep = x.getManager().randomUniform(0f, 1f, x.getShape()).gte(p).toType(x.getDataType(), false);
        return x.mul(keep).mul(1f / (1f - p));
    }

    @Override
    public NDManager manager() {
        return manager;
    }
}
