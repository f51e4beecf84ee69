package io.peft4j.core.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.peft4j.api.ConfigException;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The data section's format, column mapping, chat and alpaca settings, and their errors. */
class DataSectionConfigTest {
    @Test
    void parsesTheDataSettings() {
        RunConfig c = RunConfigParser.parse("""
                data:
                  train: qa.csv
                  format: prompt_completion
                  columns: {prompt: question, completion: answer}
                  assistant_only_loss: false
                  alpaca_template: {prompt_no_input: "Q: {instruction}\\nA: "}
                """, true);
        assertThat(c.data().format()).isEqualTo("prompt_completion");
        assertThat(c.data().columns()).isEqualTo(Map.of("prompt", "question", "completion", "answer"));
        assertThat(c.data().assistantOnlyLoss()).isFalse();
        assertThat(c.data().alpacaTemplate().promptNoInput()).isEqualTo("Q: {instruction}\nA: ");
        assertThat(RunConfigParser.parse("data: {train: a.jsonl}", true).data().assistantOnlyLoss()).isTrue();
    }

    @Test
    void errorsNameTheField() {
        assertThatThrownBy(() -> RunConfigParser.parse("data: {train: a.jsonl, format: mesages}", true))
                .isInstanceOf(ConfigException.class).hasMessageContaining("data.format")
                .hasMessageContaining("did you mean 'messages'");
        assertThatThrownBy(() -> RunConfigParser.parse("data: {train: a.jsonl, columns: {promt: q}}", true))
                .isInstanceOf(ConfigException.class).hasMessageContaining("data.columns.promt")
                .hasMessageContaining("did you mean 'prompt'");
        assertThatThrownBy(() -> RunConfigParser.parse("data: {train: a.jsonl, alpaca_template: {input: x}}", true))
                .isInstanceOf(ConfigException.class).hasMessageContaining("data.alpaca_template.input");
    }
}
