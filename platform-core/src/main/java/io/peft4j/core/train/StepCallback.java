package io.peft4j.core.train;

/**
 * Runs after {@code backward()}, clipping and the optimizer step, while gradients are still readable and before they
 * are zeroed (AdaLoRA's rank allocator reads them: {@code m -> schedule.afterStep(m.step())}). Runs outside the
 * gradient collector, so in-place updates of parameters are allowed; arrays it creates must be closed by it (or be
 * created inside its own {@code NDScope}).
 */
@FunctionalInterface
public interface StepCallback {
    void afterStep(StepMetrics metrics);
}
