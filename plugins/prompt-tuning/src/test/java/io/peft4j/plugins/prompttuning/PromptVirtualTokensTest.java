package io.peft4j.plugins.prompttuning;

import static org.assertj.core.api.Assertions.assertThat;

import io.peft4j.api.VirtualTokenConfig;
import org.junit.jupiter.api.Test;

/** The platform reads the context positions prompt tuning takes through VirtualTokenConfig, not JSON. */
class PromptVirtualTokensTest {
    @Test
    void virtualTokensAreNumVirtualTokens() {
        VirtualTokenConfig c = PromptTuningConfig.random(7);
        assertThat(c.virtualTokens()).isEqualTo(7);
    }
}
