package io.peft4j.core.train.data;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * One padded batch, row-major {@code [batchSize, seqLen]}, kept as Java arrays so a step creates its tensors inside
 * its own scope.
 *
 * @param inputIds      token ids; padded positions hold the pad id
 * @param attentionMask 1 for real tokens, 0 for padding
 * @param labels        unshifted labels; {@link Example#IGNORE_INDEX} for padding and prompt tokens
 */
public record Batch(int batchSize, int seqLen, long[] inputIds, long[] attentionMask, long[] labels) {
    public Batch {
        int n = batchSize * seqLen;
        if (inputIds.length != n || attentionMask.length != n || labels.length != n) {
            throw new IllegalArgumentException("batch arrays must have " + n + " elements");
        }
    }

    public NDArray inputIds(NDManager m) {
        return m.create(inputIds, new Shape(batchSize, seqLen));
    }

    public NDArray attentionMask(NDManager m) {
        return m.create(attentionMask, new Shape(batchSize, seqLen));
    }

    public NDArray labels(NDManager m) {
        return m.create(labels, new Shape(batchSize, seqLen));
    }

    /** Real (non-padding) tokens. */
    public long tokens() {
        long t = 0;
        for (long v : attentionMask) {
            t += v;
        }
        return t;
    }

    /** Tokens the shifted loss counts: labels at positions 1..seqLen-1 that are not ignored. */
    public long countedTokens() {
        long t = 0;
        for (int b = 0; b < batchSize; b++) {
            for (int s = 1; s < seqLen; s++) {
                if (labels[b * seqLen + s] != Example.IGNORE_INDEX) {
                    t++;
                }
            }
        }
        return t;
    }
}
