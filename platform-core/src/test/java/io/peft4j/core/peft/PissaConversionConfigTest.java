package io.peft4j.core.peft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.peft4j.api.ConfigException;
import io.peft4j.core.config.RunConfigParser;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The config side of the PiSSA to LoRA conversion (PEFT's save_pretrained rules) and its run option. */
class PissaConversionConfigTest {

    private static Map<String, Object> lora(boolean rslora, Map<String, Object> rankPattern,
                                            Map<String, Object> alphaPattern) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("peft_type", "LORA");
        m.put("r", 4);
        m.put("lora_alpha", 16.0);
        m.put("use_rslora", rslora);
        m.put("init_lora_weights", "pissa_niter_4");
        m.put("rank_pattern", rankPattern);
        m.put("alpha_pattern", alphaPattern);
        return m;
    }

    @Test
    void doublesRankAlphaAndPatternsAndResetsInit() {
        Map<String, Object> out = PissaConversion.convertConfig(lora(false, Map.of("q_proj", 8),
                Map.of("q_proj", 32.0)), "default");
        assertThat(out).containsEntry("r", 8).containsEntry("lora_alpha", 32.0)
                .containsEntry("init_lora_weights", true).containsEntry("peft_type", "LORA")
                .containsEntry("rank_pattern", Map.of("q_proj", 16))
                .containsEntry("alpha_pattern", Map.of("q_proj", 64.0));
    }

    @Test
    void rsloraKeepsTheScalingWithAlphaTimesSqrt2() {
        Map<String, Object> out = PissaConversion.convertConfig(lora(true, Map.of(), Map.of()), "default");
        assertThat(out).containsEntry("r", 8);
        double alpha = (Double) out.get("lora_alpha");
        assertThat(alpha / Math.sqrt(8)).isCloseTo(16.0 / Math.sqrt(4), org.assertj.core.data.Offset.offset(1e-12));
    }

    @Test
    void rsloraWithPatternsIsRejectedLikePeft() {
        assertThatThrownBy(() -> PissaConversion.convertConfig(lora(true, Map.of("q_proj", 8), Map.of()), "default"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("output.convert_to_lora")
                .hasMessageContaining("use_rslora");
    }

    @Test
    void runOptionDefaultsToFalse() {
        assertThat(RunConfigParser.parse("output: {dir: x}", true).output().convertToLora()).isFalse();
        assertThat(RunConfigParser.parse("output: {dir: x, convert_to_lora: true}", true).output().convertToLora())
                .isTrue();
        assertThatThrownBy(() -> RunConfigParser.parse("output: {convert_to_lora: maybe}", true))
                .isInstanceOf(ConfigException.class).hasMessageContaining("output.convert_to_lora");
    }
}
