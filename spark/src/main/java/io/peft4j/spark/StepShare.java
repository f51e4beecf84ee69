package io.peft4j.spark;

import io.peft4j.core.train.data.Batch;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;

/**
 * One worker's share of an optimizer step: the micro-batches it computes (with their index in the step, which fixes
 * their dropout seed) and the step-wide numbers the loss is normalised with.
 */
record StepShare(int worker, int step, long countedTokens, int microBatchesInStep, List<MicroBatch> microBatches)
        implements Serializable {

    /** A padded micro-batch as plain arrays ({@link Batch} is not serializable). */
    record MicroBatch(int index, int rows, int seqLen, long[] inputIds, long[] attentionMask, long[] labels)
            implements Serializable {
        static MicroBatch of(int index, Batch b) {
            return new MicroBatch(index, b.batchSize(), b.seqLen(), b.inputIds(), b.attentionMask(), b.labels());
        }

        Batch batch() {
            return new Batch(rows, seqLen, inputIds, attentionMask, labels);
        }
    }

    /** Deals micro-batch {@code i} of the window to worker {@code i % workers}. */
    static List<StepShare> deal(int step, List<Batch> window, long countedTokens, int workers) {
        List<StepShare> shares = new ArrayList<>(workers);
        for (int w = 0; w < workers; w++) {
            List<MicroBatch> mine = new ArrayList<>();
            for (int i = w; i < window.size(); i += workers) {
                mine.add(MicroBatch.of(i, window.get(i)));
            }
            shares.add(new StepShare(w, step, countedTokens, window.size(), mine));
        }
        return shares;
    }
}
