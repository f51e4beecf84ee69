package io.peft4j.plugins.lora;

import static org.assertj.core.api.Assertions.assertThat;

import io.peft4j.api.LowRankSettings;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** LoRA's typed low-rank capability: what the platform reads and replaces without editing JSON. */
class LoraLowRankConfigTest {

    @Test
    void lowRankReadsRankAlphaPatternsAndTheInitializerText() {
        LoraConfig c = new LoraConfig(4, 16.0, 0.1, true, null, null, List.of("q_proj"), null, "pissa_niter_4",
                Map.of("v_proj", 2), Map.of("v_proj", 8.0), null, null, null, null, null, null, null, null);
        assertThat(c.lowRank()).isEqualTo(new LowRankSettings(4, 16.0, true, Map.of("v_proj", 2),
                Map.of("v_proj", 8.0), "pissa_niter_4"));
        assertThat(LoraConfig.of(8, 8, null).lowRank().initializer()).isEqualTo("true");
    }

    @Test
    void withLowRankReplacesOnlyTheLowRankFieldsAndWritesBooleansForTrueAndFalse() {
        LoraConfig c = new LoraConfig(4, 16.0, 0.1, false, null, null, List.of("q_proj"), "k_proj", "pissa",
                null, null, null, null, null, null, null, null, null, null);
        LoraConfig out = c.withLowRank(new LowRankSettings(8, 32.0, false, Map.of("q_proj", 16), Map.of(), "true"));
        assertThat(out.r()).isEqualTo(8);
        assertThat(out.loraAlpha()).isEqualTo(32.0);
        assertThat(out.rankPattern()).isEqualTo(Map.of("q_proj", 16));
        assertThat(out.initLoraWeights()).isEqualTo(Boolean.TRUE);
        assertThat(out.loraDropout()).isEqualTo(0.1);
        assertThat(out.targetModules()).isEqualTo(List.of("q_proj"));
        assertThat(out.excludeModules()).isEqualTo("k_proj");
        assertThat(c.withLowRank(LowRankSettings.of(2, 2, "false")).initLoraWeights()).isEqualTo(Boolean.FALSE);
    }

    /** LoftQ's loftq_iter_N spelling round-trips through the settings as PEFT's loftq + loftq_config. */
    @Test
    void loftqIterationsSurviveTheRoundTrip() {
        LoraConfig c = LoraConfig.of(4, 8, List.of("q_proj")).withLowRank(LowRankSettings.of(4, 8, "loftq_iter_3"));
        assertThat(c.initLoraWeights()).isEqualTo("loftq");
        assertThat(c.loftqConfig()).containsEntry("loftq_iter", 3);
        assertThat(c.lowRank().initializer()).isEqualTo("loftq_iter_3");
        assertThat(c.withLowRank(LowRankSettings.of(8, 8, "true")).loftqConfig()).isEmpty();
    }

    @Test
    void withTargetModulesKeepsEverythingElse() {
        LoraConfig c = LoraConfig.of(4, 8, null);
        assertThat(c.targetSpec().isEmpty()).isTrue();
        LoraConfig t = c.withTargetModules(List.of("q_proj", "v_proj"));
        assertThat(t.targetModules()).isEqualTo(List.of("q_proj", "v_proj"));
        assertThat(t.lowRank()).isEqualTo(c.lowRank());
    }

    @Test
    void defaultTargetsAndMixedBatchAreDeclaredByTheMethod() {
        LoraAdapter lora = new LoraAdapter();
        for (String arch : List.of("llama", "mistral", "qwen2")) {
            assertThat(lora.defaultTargets(arch)).containsExactly("q_proj", "v_proj");
        }
        assertThat(lora.defaultTargets("gpt2")).isEmpty();
        assertThat(lora.supportsMixedBatch()).isTrue();
    }
}
