package io.peft4j.core.train;

/**
 * What a finished optimizer step reports to {@link StepCallback}s.
 *
 * @param step     the optimizer step just taken, 1-based
 * @param loss     the step's training loss (task loss plus auxiliary terms)
 * @param lr       learning rate of the first parameter group at this step
 * @param gradNorm global gradient norm before clipping
 * @param tokens   real input tokens of the step
 */
public record StepMetrics(int step, double loss, double lr, double gradNorm, long tokens) {
}
