package io.peft4j.core.train;

import java.nio.file.Path;
import java.util.List;

/**
 * @param steps          optimizer steps completed in total (including those before a resume)
 * @param losses         the training loss of each step this call ran, in order (index 0 is step {@code firstStep})
 * @param firstStep      the first step this call ran (1 without resume)
 * @param lastEval       the final evaluation, or null without eval data
 * @param lastCheckpoint the newest checkpoint directory, or null
 * @param bestStep       the step of the lowest eval loss, or null without evals
 * @param bestEvalLoss   that loss, or null
 * @param stoppedEarly   early stopping ended the run before its last step
 * @param endedWithBest  the trainable tensors were set back to those of {@code bestStep} ({@code loadBestAtEnd})
 */
public record TrainingResult(int steps, List<Double> losses, int firstStep, EvalResult lastEval,
                             Path lastCheckpoint, Integer bestStep, Double bestEvalLoss, boolean stoppedEarly,
                             boolean endedWithBest) {
    public TrainingResult {
        losses = List.copyOf(losses);
    }
}
