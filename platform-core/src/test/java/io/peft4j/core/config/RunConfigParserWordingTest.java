package io.peft4j.core.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.peft4j.api.ConfigException;
import org.junit.jupiter.api.Test;

/**
 * Configuration errors speak the configuration's language: the field, what was given and what is expected - never a
 * Java class name or Jackson's phrasing - in every section.
 */
class RunConfigParserWordingTest {
    private static ConfigException error(String yaml) {
        Throwable t = org.assertj.core.api.Assertions.catchThrowable(() -> RunConfigParser.parse(yaml, true));
        assertThat(t).isInstanceOf(ConfigException.class);
        String m = t.getMessage();
        assertThat(m).as("no Java or Jackson wording in: " + m)
                .doesNotContain("java.", "io.peft4j", "$", "`", "Cannot deserialize", "Cannot construct", "instance of",
                        "START_", "END_", "Integer", "Double", "Boolean", "String", "OBJECT", "ARRAY");
        return (ConfigException) t;
    }

    @Test
    void modelAcceptsAPlainPathString() {
        RunConfig c = RunConfigParser.parse("model: /models/llama\n", true);
        assertThat(c.model().path()).isEqualTo("/models/llama");
        assertThat(c.model().device()).isEqualTo("cpu");
        assertThat(RunConfigParser.parse("{\"model\": \"bundled:stories260K\"}", false).model().path())
                .isEqualTo("bundled:stories260K");
    }

    @Test
    void wrongTypesNameFieldExpectedAndGiven() {
        ConfigException steps = error("training: {steps: many}");
        assertThat(steps.field()).isEqualTo("training.steps");
        assertThat(steps.getMessage()).contains("expected a whole number", "got the text \"many\"");

        assertThat(error("training: {steps: 1.5}").getMessage()).contains("training.steps", "a whole number", "1.5");
        assertThat(error("training: {truncate: maybe}").getMessage())
                .contains("training.truncate", "expected true or false", "\"maybe\"");
        assertThat(error("optimizer: {lr: fast}").getMessage()).contains("optimizer.lr", "expected a number",
                "\"fast\"");
        assertThat(error("optimizer: {betas: 0.9}").getMessage()).contains("optimizer.betas", "expected a list",
                "0.9");
        assertThat(error("optimizer: {betas: [0.9, x]}").getMessage()).contains("optimizer.betas[1]",
                "expected a number", "\"x\"");
        assertThat(error("data: {train: [a.jsonl, b.jsonl]}").getMessage()).contains("data.train",
                "expected a text value", "a list");
        assertThat(error("output: [runs]").getMessage()).contains("output", "expected a mapping with keys",
                "convert_to_lora", "a list");
        assertThat(error("model: [a, b]").getMessage()).contains("model", "expected a mapping with keys",
                "path", "device");
        assertThat(error("model: {path: {x: 1}}").getMessage()).contains("model.path", "expected a text value",
                "a mapping");
        assertThat(error("quantization: {method: nf4, options: [1]}").getMessage())
                .contains("quantization.options", "expected a mapping", "a list");
        assertThat(error("pruning: {sparsity: half}").getMessage()).contains("pruning.sparsity",
                "expected a number");
        assertThat(error("adapters: {method: lora}").getMessage()).contains("adapters", "expected a list",
                "a mapping");
        assertThat(error("adapters: [lora]").getMessage()).contains("adapters[0]", "expected a mapping",
                "the text \"lora\"");
        assertThat(error("[1, 2]").getMessage()).contains("expected a mapping with sections", "a list");
    }

    @Test
    void bestAndEarlyStoppingNeedEvalData() {
        assertThat(error("training: {load_best_at_end: true}\ndata: {train: t.jsonl}").getMessage())
                .contains("training.load_best_at_end", "data.eval");
        assertThat(error("training: {early_stopping_patience: 2, eval_every: 10}\ndata: {train: t.jsonl}")
                .getMessage()).contains("training.early_stopping_patience", "data.eval");
        assertThat(error("training: {early_stopping_patience: 2}\ndata: {train: t.jsonl, eval: e.jsonl}")
                .getMessage()).contains("training.early_stopping_patience", "eval_every");
        assertThat(error("training: {early_stopping_patience: 0, eval_every: 5}\ndata: {eval_fraction: 0.1}")
                .getMessage()).contains("training.early_stopping_patience", ">= 1");
        RunConfig ok = RunConfigParser.parse("training: {early_stopping_patience: 2, eval_every: 5}\n"
                + "data: {train: t.jsonl, eval_fraction: 0.1}", true);
        assertThat(ok.training().earlyStoppingPatience()).isEqualTo(2);
        assertThat(ok.training().loadBestAtEnd()).as("null: decided by whether there is eval data").isNull();
    }
}
