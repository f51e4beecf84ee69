package io.peft4j.plugins.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.peft4j.api.ConfigException;
import io.peft4j.api.ModelShape;
import io.peft4j.api.SiteInfo;
import io.peft4j.api.SiteKind;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LoraConfigTest {

    private static LoraConfig withPatterns(Map<String, Integer> ranks, Map<String, Double> alphas, boolean rs) {
        return new LoraConfig(8, 16.0, null, rs, null, null, List.of("q_proj"), null, null, ranks, alphas, null,
                null, null, null, null, null, null, null);
    }

    @Test
    void defaultsArePefts() {
        LoraConfig c = LoraConfig.of(8, 8, null);
        assertThat(c.loraDropout()).isZero();
        assertThat(c.bias()).isEqualTo("none");
        assertThat(c.initLoraWeights()).isEqualTo(Boolean.TRUE);
        assertThat(c.scalingFor("model.layers.0.self_attn.q_proj")).isEqualTo(1.0f);
    }

    @Test
    void rankAndAlphaPatternsUseTheFirstMatchingKeyAsPeftDoes() {
        Map<String, Integer> ranks = new LinkedHashMap<>();
        ranks.put("layers\\.0\\.self_attn\\.q_proj", 4);
        ranks.put("q_proj", 2);
        Map<String, Double> alphas = Map.of("v_proj", 32.0);
        LoraConfig c = withPatterns(ranks, alphas, false);
        assertThat(c.rankFor("model.layers.0.self_attn.q_proj")).isEqualTo(4);
        assertThat(c.rankFor("model.layers.1.self_attn.q_proj")).isEqualTo(2);
        assertThat(c.rankFor("model.layers.1.self_attn.k_proj")).isEqualTo(8);
        // "proj" alone must not match "q_proj": the pattern is anchored at a dot boundary.
        assertThat(withPatterns(Map.of("proj", 3), Map.of(), false).rankFor("model.layers.0.self_attn.q_proj"))
                .isEqualTo(8);
        assertThat(c.scalingFor("model.layers.3.self_attn.v_proj")).isEqualTo(32f / 8f);
        assertThat(c.scalingFor("model.layers.0.self_attn.q_proj")).isEqualTo(16f / 4f);
    }

    @Test
    void rsloraScalesByRootOfRank() {
        LoraConfig c = withPatterns(Map.of(), Map.of(), true);
        assertThat(c.scalingFor("x.q_proj")).isEqualTo((float) (16.0 / Math.sqrt(8)));
    }

    @Test
    void invalidValuesNameTheField() {
        assertThatThrownBy(() -> new LoraConfig(0, null, null, null, null, null, null, null, null, null, null, null,
                null, null, null, null, null, null, null).validate())
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("r:");
        assertThatThrownBy(() -> new LoraConfig(4, null, 1.0, null, null, null, null, null, null, null, null, null,
                null, null, null, null, null, null, null).validate())
                .hasMessageStartingWith("lora_dropout:");
        assertThatThrownBy(() -> new LoraConfig(4, null, null, null, "some", null, null, null, null, null, null, null,
                null, null, null, null, null, null, null).validate())
                .hasMessageStartingWith("bias:");
        assertThatThrownBy(() -> new LoraConfig(4, null, null, null, null, true, null, null, "gaussian", null, null,
                null, null, null, null, null, null, null, null).validate())
                .hasMessageStartingWith("lora_bias:");
        assertThatThrownBy(() -> new LoraConfig(4, null, null, null, null, null, null, null, null, null, null, true,
                null, null, null, null, null, null, null).validate())
                .hasMessageContaining("dora");
    }

    /** PEFT spells LoftQ as init "loftq" + loftq_config; our initializer spelling loftq_iter_N maps onto it. */
    @Test
    void loftqIterationCountIsStoredInPeftsLoftqConfig() throws Exception {
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        LoraConfig ours = json.convertValue(Map.of("r", 4, "init_lora_weights", "loftq_iter_5"), LoraConfig.class);
        assertThat(ours.initLoraWeights()).isEqualTo("loftq");
        assertThat(ours.loftqConfig()).containsEntry("loftq_iter", 5).containsEntry("loftq_bits", 4);
        assertThat(ours.initName()).isEqualTo("loftq_iter_5");
        ours.validate();
        LoraConfig peft = json.convertValue(Map.of("r", 4, "init_lora_weights", "loftq",
                "loftq_config", Map.of("loftq_bits", 4, "loftq_iter", 1)), LoraConfig.class);
        assertThat(peft.initName()).isEqualTo("loftq");
        assertThat(LoraConfig.of(8, 8, null).loftqConfig()).isEmpty();
        assertThatThrownBy(() -> json.convertValue(Map.of("init_lora_weights", "pissa",
                "loftq_config", Map.of("loftq_iter", 2)), LoraConfig.class).validate())
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("loftq_config:");
        assertThatThrownBy(() -> json.convertValue(Map.of("init_lora_weights", "loftq",
                "loftq_config", Map.of("loftq_bits", 2)), LoraConfig.class).validate())
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("loftq_config.loftq_bits:");
    }

    @Test
    void rankLargerThanTheLayerIsAcceptedAsInPeft() {
        SiteInfo small = new SiteInfo("model.layers.0.self_attn.k_proj", SiteKind.LINEAR, 64, 32, 0, false);
        LoraConfig c = LoraConfig.of(48, 16, List.of("k_proj"));
        new LoraAdapter().validate(c, List.of(small), new ModelShape(64, 1, 8, 4, 8, 512, 512));
    }

    @Test
    void readsOnlyPlainLoraAdapterConfigs() {
        LoraAdapter a = new LoraAdapter();
        assertThat(a.readsPeftConfig(Map.of("peft_type", "LORA"))).isTrue();
        assertThat(a.readsPeftConfig(Map.of("peft_type", "LORA", "use_dora", true))).isFalse();
        assertThat(a.readsPeftConfig(Map.of("peft_type", "VERA"))).isFalse();
    }
}
