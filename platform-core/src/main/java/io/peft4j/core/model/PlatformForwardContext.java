package io.peft4j.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.peft4j.api.ForwardContext;
import io.peft4j.api.LinearAlgebra;
import io.peft4j.linalg.EjmlLinearAlgebra;

/**
 * The platform's {@link ForwardContext}. Dropout masks come from the engine's seeded generator
 * ({@code randomUniform}), so a run with the same seed draws the same masks. An optional {@link RowAdapters}
 * assignment turns the pass into a mixed batch (one adapter, or none, per row).
 */
public class PlatformForwardContext implements ForwardContext {
    private final boolean training;
    private final NDManager manager;
    private final RowAdapters rowAdapters;

    public PlatformForwardContext(boolean training, NDManager manager) {
        this(training, manager, null);
    }

    /** @param rowAdapters per-row adapters of a mixed batch, or null to apply the active adapters to every row */
    public PlatformForwardContext(boolean training, NDManager manager, RowAdapters rowAdapters) {
        this.training = training;
        this.manager = manager;
        this.rowAdapters = rowAdapters;
    }

    public static PlatformForwardContext eval(NDManager manager) {
        return new PlatformForwardContext(false, manager);
    }

    /** An eval context for a mixed batch (null {@code rows}: an ordinary eval context). */
    public static PlatformForwardContext eval(NDManager manager, RowAdapters rows) {
        return new PlatformForwardContext(false, manager, rows);
    }

    /** The per-row adapters of a mixed batch, or null. */
    public RowAdapters rowAdapters() {
        return rowAdapters;
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
        return x.mul(keep).mul(scalar(1.0 / (1.0 - p)));
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
