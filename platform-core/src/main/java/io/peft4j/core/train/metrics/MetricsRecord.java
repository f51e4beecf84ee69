package io.peft4j.core.train.metrics;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * One line of {@code metrics.jsonl}. Training fields are present on logged steps, eval fields on evaluated steps;
 * absent ones are omitted from the JSON.
 *
 * @param step            optimizer step (1-based)
 * @param loss            mean training loss over the steps since the previous log line
 * @param lr              learning rate of the first parameter group at the last of those steps
 * @param gradNorm        global gradient norm before clipping, at the last of those steps
 * @param tokens          real (non-padding) input tokens over those steps
 * @param tokensPerSecond {@code tokens} divided by the wall time of those steps
 * @param evalLoss        mean eval loss per counted token
 * @param evalPpl         {@code exp(evalLoss)}
 * @param elapsed         seconds of training so far (continued across resumes)
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record MetricsRecord(
        @JsonProperty("step") int step,
        @JsonProperty("loss") Double loss,
        @JsonProperty("lr") Double lr,
        @JsonProperty("grad_norm") Double gradNorm,
        @JsonProperty("tokens") Long tokens,
        @JsonProperty("tokens_per_s") Double tokensPerSecond,
        @JsonProperty("eval_loss") Double evalLoss,
        @JsonProperty("eval_ppl") Double evalPpl,
        @JsonProperty("elapsed") double elapsed) {
}
