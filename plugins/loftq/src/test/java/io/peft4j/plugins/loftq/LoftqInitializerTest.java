package io.peft4j.plugins.loftq;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.peft4j.api.ConfigException;
import io.peft4j.api.SiteInfo;
import io.peft4j.api.SiteKind;
import org.junit.jupiter.api.Test;

/** The init names LoftQ claims and the checks it makes before any tensor exists (the math: LoftqEndToEndTest). */
class LoftqInitializerTest {
    private final LoftqInitializer loftq = new LoftqInitializer();

    @Test
    void claimsLoftqNamesAndParsesTheIterationCount() {
        assertThat(loftq.handles("loftq")).isTrue();
        assertThat(loftq.handles("loftq_iter_5")).isTrue();
        assertThat(loftq.handles("pissa")).isFalse();
        assertThat(loftq.handles(null)).isFalse();
        assertThat(loftq.rewritesBase()).isTrue();
        assertThat(LoftqInitializer.iterations("loftq")).isEqualTo(1);
        assertThat(LoftqInitializer.iterations("loftq_iter_5")).isEqualTo(5);
        for (String bad : new String[] {"loftq_iter_0", "loftq_iter_x", "loftq_iter_101", "loftq_iter_"}) {
            assertThatThrownBy(() -> LoftqInitializer.iterations(bad)).as(bad).isInstanceOf(ConfigException.class)
                    .hasMessageStartingWith("init_lora_weights:").hasMessageContaining(bad);
        }
    }

    @Test
    void rankAboveMinInOutIsAcceptedWithFactorsSlicedAtTheSvdSizeAsPeftDoes() {
        SiteInfo k = new SiteInfo("model.layers.0.self_attn.k_proj", SiteKind.LINEAR, 64, 32, 0, false);
        loftq.validate("loftq", k, 33);
        assertThat(loftq.factorRank("loftq", k, 40)).isEqualTo(32);
        assertThat(loftq.factorRank("loftq", k, 8)).isEqualTo(8);
    }
}
