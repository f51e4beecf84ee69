package io.peft4j.plugins.adalora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.peft4j.api.ConfigException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class AdaLoraConfigTest {

    private static AdaLoraConfig cfg(Integer initR, Integer targetR, Integer tinit, Integer tfinal, Double beta1,
                                     Double orth, Integer total, Boolean dora) {
        return new AdaLoraConfig(initR, targetR, tinit, tfinal, null, beta1, null, orth, total, null, null, null,
                List.of("q_proj"), null, null, null, null, null, dora, null, null, null, null);
    }

    @Test
    void defaultsArePefts() {
        AdaLoraConfig c = AdaLoraConfig.of(12, 8, 100, null);
        assertThat(c.tinit()).isZero();
        assertThat(c.tfinal()).isZero();
        assertThat(c.deltaT()).isEqualTo(1);
        assertThat(c.beta1()).isEqualTo(0.85);
        assertThat(c.beta2()).isEqualTo(0.85);
        assertThat(c.orthRegWeight()).isEqualTo(0.5);
        assertThat(c.loraAlpha()).isEqualTo(8.0);
        assertThat(c.rankPattern()).isNull();
        assertThat(c.scaling(12)).isEqualTo(8f);
        c.validate();
        AdaLoraConfig noAlpha = new AdaLoraConfig(12, 8, null, null, null, null, null, null, 100, null, 0.0, null,
                null, null, null, null, null, null, null, null, null, null, null);
        assertThat(noAlpha.scaling(12)).isEqualTo(12f);
        assertThat(c.withRankPattern(Map.of()).rankPattern()).isNull();
    }

    @Test
    void invalidValuesNameTheField() {
        assertThatThrownBy(() -> cfg(4, 8, null, null, null, null, 10, null).validate())
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("target_r:")
                .hasMessageContaining("init_r = 4");
        assertThatThrownBy(() -> cfg(12, 8, null, null, null, null, null, null).validate())
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("total_step:")
                .hasMessageContaining("required");
        assertThatThrownBy(() -> cfg(12, 8, null, null, null, null, 0, null).validate())
                .hasMessageStartingWith("total_step:");
        assertThatThrownBy(() -> cfg(12, 8, 6, 4, null, null, 10, null).validate())
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("tinit:")
                .hasMessageContaining("tinit < total_step - tfinal");
        cfg(12, 8, 5, 4, null, null, 10, null).validate();
        assertThatThrownBy(() -> cfg(12, 8, null, null, 1.0, null, 10, null).validate())
                .hasMessageStartingWith("beta1:");
        assertThatThrownBy(() -> cfg(12, 8, null, null, 0.0, null, 10, null).validate())
                .hasMessageStartingWith("beta1:");
        assertThatThrownBy(() -> cfg(12, 8, null, null, null, -0.1, 10, null).validate())
                .hasMessageStartingWith("orth_reg_weight:");
        assertThatThrownBy(() -> cfg(12, 8, null, null, null, null, 10, true).validate())
                .hasMessageStartingWith("use_dora:");
    }

    @Test
    void rankPatternEntriesAreChecked() {
        AdaLoraConfig c = AdaLoraConfig.of(2, 1, 10, List.of("q_proj"));
        assertThatThrownBy(() -> c.withRankPattern(Map.of("model.layers.0.self_attn.q_proj.lora_E",
                List.of(true, false, true))).validate()).isInstanceOf(ConfigException.class)
                .hasMessageContaining("init_r = 2");
        assertThatThrownBy(() -> c.withRankPattern(Map.of("model.layers.0.self_attn.q_proj",
                List.of(true, false))).validate()).hasMessageContaining("lora_E");
        AdaLoraConfig ok = c.withRankPattern(Map.of("model.layers.0.self_attn.q_proj.lora_E", List.of(true, false)));
        ok.validate();
        assertThat(ok.patternFor("model.layers.0.self_attn.q_proj")).containsExactly(true, false);
    }
}
