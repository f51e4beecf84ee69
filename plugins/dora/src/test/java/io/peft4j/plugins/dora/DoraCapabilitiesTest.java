package io.peft4j.plugins.dora;

import static org.assertj.core.api.Assertions.assertThat;

import io.peft4j.api.LowRankSettings;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** DoRA shares LoRA's low-rank capability and default targets, and stays out of mixed batches as in PEFT. */
class DoraCapabilitiesTest {
    @Test
    void withLowRankKeepsUseDora() {
        DoraConfig c = DoraConfig.of(4, 8, List.of("q_proj")).withLowRank(new LowRankSettings(8, 16, false,
                Map.of(), Map.of(), "true"));
        assertThat(c.useDora()).isTrue();
        assertThat(c.r()).isEqualTo(8);
        assertThat(c.scalingFor("model.layers.0.self_attn.q_proj")).isEqualTo(2f);
    }

    @Test
    void defaultTargetsAreLorasAndMixedBatchesAreRefused() {
        DoraAdapter dora = new DoraAdapter();
        assertThat(dora.defaultTargets("llama")).containsExactly("q_proj", "v_proj");
        assertThat(dora.supportsMixedBatch()).isFalse();
    }
}
