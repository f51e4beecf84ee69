package io.peft4j.core.train.checkpoint;

import java.util.Map;

/**
 * Everything besides tensors that a resumed run needs to continue exactly where a checkpoint was taken.
 *
 * @param step                      optimizer steps completed
 * @param microBatches              micro-batches consumed from the training stream (the data position: epoch and
 *                                  batch follow from it)
 * @param seed                      the run's seed; the random state of step {@code s} is derived from
 *                                  {@code (seed, s)}, so no generator state needs saving
 * @param batchSize                 rows per micro-batch
 * @param gradientAccumulationSteps micro-batches per optimizer step
 * @param elapsedSeconds            training time so far
 * @param optimizerSteps            AdamW's step count per parameter name
 */
public record TrainerState(int step, long microBatches, long seed, int batchSize, int gradientAccumulationSteps,
                           double elapsedSeconds, Map<String, Long> optimizerSteps) {
    public TrainerState {
        optimizerSteps = Map.copyOf(optimizerSteps);
    }
}
