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
 * @param evalLoss                  the eval loss at this step, or null when none was computed here
 * @param bestStep                  the step of the lowest eval loss so far, or null (as Hugging Face's
 *                                  {@code best_model_checkpoint}: retention keeps that step's checkpoint)
 * @param bestEvalLoss              that loss, or null
 * @param evalsWithoutImprovement   evals in a row without improvement (early stopping's count), or null
 */
public record TrainerState(int step, long microBatches, long seed, int batchSize, int gradientAccumulationSteps,
                           double elapsedSeconds, Map<String, Long> optimizerSteps, Double evalLoss,
                           Integer bestStep, Double bestEvalLoss, Integer evalsWithoutImprovement) {
    public TrainerState {
        optimizerSteps = Map.copyOf(optimizerSteps);
    }

    /** A state without eval history (checkpoints written before best-eval tracking read this way too). */
    public TrainerState(int step, long microBatches, long seed, int batchSize, int gradientAccumulationSteps,
                        double elapsedSeconds, Map<String, Long> optimizerSteps) {
        this(step, microBatches, seed, batchSize, gradientAccumulationSteps, elapsedSeconds, optimizerSteps, null,
                null, null, null);
    }
}
