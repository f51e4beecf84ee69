package io.peft4j.spark;

import io.peft4j.core.run.TuningSession;
import java.util.Map;

/**
 * The result of {@link Peft4jSpark#train}.
 *
 * @param outcome            eval before/after, the training result and the saved adapter (PEFT format)
 * @param workers            data-parallel workers (tasks per step)
 * @param trainableElements  trainable adapter elements (the gradient of one worker is 4 bytes each)
 * @param exchange           {@link ExchangeStats#summary}
 * @param trainSeconds       wall time of the training loop on the driver
 */
public record SparkRun(TuningSession.Outcome outcome, int workers, long trainableElements, Map<String, Object> exchange,
                       double trainSeconds) {
}
