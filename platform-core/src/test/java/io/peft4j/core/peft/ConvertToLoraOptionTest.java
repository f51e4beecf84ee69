package io.peft4j.core.peft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.peft4j.api.ConfigException;
import io.peft4j.core.config.RunConfigParser;
import org.junit.jupiter.api.Test;

/**
 * The run option of the PiSSA to LoRA conversion; the conversion's rules are the pissa plugin's
 * ({@code OriginalBaseConversionTest}).
 */
class ConvertToLoraOptionTest {

    @Test
    void runOptionDefaultsToFalse() {
        assertThat(RunConfigParser.parse("output: {dir: x}", true).output().convertToLora()).isFalse();
        assertThat(RunConfigParser.parse("output: {dir: x, convert_to_lora: true}", true).output().convertToLora())
                .isTrue();
        assertThatThrownBy(() -> RunConfigParser.parse("output: {convert_to_lora: maybe}", true))
                .isInstanceOf(ConfigException.class).hasMessageContaining("output.convert_to_lora");
    }
}
