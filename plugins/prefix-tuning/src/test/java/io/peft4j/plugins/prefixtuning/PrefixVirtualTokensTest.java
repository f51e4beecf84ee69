package io.peft4j.plugins.prefixtuning;

import static org.assertj.core.api.Assertions.assertThat;

import io.peft4j.api.VirtualTokenConfig;
import org.junit.jupiter.api.Test;

/** The platform reads the context positions prefix tuning takes through VirtualTokenConfig, not JSON. */
class PrefixVirtualTokensTest {
    @Test
    void virtualTokensAreNumVirtualTokens() {
        VirtualTokenConfig c = PrefixTuningConfig.of(5, false);
        assertThat(c.virtualTokens()).isEqualTo(5);
    }
}
