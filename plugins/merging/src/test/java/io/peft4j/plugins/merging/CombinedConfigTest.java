package io.peft4j.plugins.merging;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.peft4j.api.ConfigException;
import io.peft4j.api.LowRankConfig;
import io.peft4j.api.LowRankSettings;
import io.peft4j.api.TargetSpec;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** PEFT's add_weighted_adapter config (spec 9.1, 9.6), built on the LowRankConfig capability. */
class CombinedConfigTest {

    /** A minimal LowRankConfig: settings and PEFT target_modules only. */
    private record Fake(LowRankSettings lowRank, Object targets) implements LowRankConfig {
        public TargetSpec targetSpec() {
            return TargetSpec.fromPeft(targets, null, null, null);
        }

        public Fake withLowRank(LowRankSettings s) {
            return new Fake(s, targets);
        }

        public Fake withTargetModules(Object t) {
            return new Fake(lowRank, t);
        }
    }

    private static Fake input(Object targets) {
        return new Fake(new LowRankSettings(4, 16.0, true, Map.of("q_proj", 8), Map.of("q_proj", 4.0), "gaussian"),
                targets);
    }

    @Test
    void rankEqualsAlphaNoRsloraNoPatternsNoInitAndTheUnionOfTargetLists() {
        Fake out = (Fake) new WeightedMerger(null).combinedConfig(List.of(input(List.of("q_proj", "v_proj")),
                input(List.of("v_proj", "down_proj"))), 12);
        assertThat(out.lowRank()).isEqualTo(new LowRankSettings(12, 12.0, false, Map.of(), Map.of(), "false"));
        assertThat(out.targets()).isEqualTo(List.of("q_proj", "v_proj", "down_proj"));
    }

    @Test
    void regexTargetsAreAlternatedAndMixingFormsIsRefused() {
        assertThat(CombinedConfig.targets(List.of(input(".*q_proj"), input(".*v_proj"))))
                .isEqualTo("(.*q_proj)|(.*v_proj)");
        assertThat(CombinedConfig.targets(List.of(input(".*q_proj"), input(".*q_proj")))).isEqualTo(".*q_proj");
        assertThatThrownBy(() -> CombinedConfig.targets(List.of(input(".*q_proj"), input(List.of("v_proj")))))
                .isInstanceOf(ConfigException.class).hasMessageContaining("target_modules");
        assertThatThrownBy(() -> CombinedConfig.targets(List.of(input("all-linear"), input(".*q_proj"))))
                .isInstanceOf(ConfigException.class).hasMessageContaining("all-linear");
    }
}
