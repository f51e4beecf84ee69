package io.peft4j.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * Additive attention masks. Causal: query at absolute position {@code i} may see keys {@code j <= i}; the mask is a
 * slice of a cached square {@code [cap, cap]} float32 matrix holding 0 on and below the diagonal and {@code -inf}
 * above it (DJL has no triu), grown on demand. Padding: key positions whose attention-mask entry is 0 get
 * {@link #PADDING}, a large finite negative, so a padding query row that sees only padding keys stays finite (its
 * output is ignored) instead of turning into NaN.
 */
final class AttentionMasks {
    /** Additive value for padding keys. */
    static final float PADDING = -1e9f;

    private final NDManager manager;
    private NDArray square;
    private int capacity;

    AttentionMasks(NDManager manager) {
        this.manager = manager;
    }

    /**
     * The causal mask {@code [seq, keys]} for queries at absolute positions {@code keys - seq .. keys - 1} over keys
     * {@code 0 .. keys - 1}.
     */
    NDArray causal(int seq, int keys) {
        ensure(keys);
        return square.get(new NDIndex("{}:{}, :{}", keys - seq, keys, keys));
    }

    /** The additive padding mask {@code [batch, 1, 1, 1, keys]} from a 0/1 mask {@code [batch, keys]}. */
    static NDArray padding(NDArray mask) {
        Shape s = mask.getShape();
        return mask.toType(DataType.FLOAT32, false).sub(1f).mul(-PADDING)
                .reshape(s.get(0), 1, 1, 1, s.get(1));
    }

    private void ensure(int needed) {
        if (needed <= capacity) {
            return;
        }
        int cap = Math.max(needed, Math.max(64, capacity * 2));
        float[] m = new float[cap * cap];
        for (int i = 0; i < cap; i++) {
            for (int j = i + 1; j < cap; j++) {
                m[i * cap + j] = Float.NEGATIVE_INFINITY;
            }
        }
        if (square != null) {
            square.close();
        }
        square = manager.create(m, new Shape(cap, cap));
        NDScope.unregister(square);   // owned by the model, not by the pass that happened to build it
        capacity = cap;
    }

    void release() {
        if (square != null) {
            square.close();
        }
    }
}
