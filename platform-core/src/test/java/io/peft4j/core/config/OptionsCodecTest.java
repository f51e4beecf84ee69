package io.peft4j.core.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.annotation.JsonProperty;
import io.peft4j.api.ConfigException;
import io.peft4j.api.ExtensionOptions;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The one codec for extension options: strict user options, lenient saved ones, errors naming the key. */
class OptionsCodecTest {

    /** Shaped like a plugin's options record: JSON names, defaults in the compact constructor, validate(). */
    record Opts(@JsonProperty("lr_ratio") Double lrRatio, @JsonProperty("blocksize") Integer blocksize,
                @JsonProperty("double_quant") Boolean doubleQuant) implements ExtensionOptions {
        Opts {
            lrRatio = lrRatio == null ? 16.0 : lrRatio;
            blocksize = blocksize == null ? 64 : blocksize;
            doubleQuant = doubleQuant == null || doubleQuant;
        }

        @Override
        public void validate() {
            if (!(lrRatio > 0)) {
                throw new ConfigException("lr_ratio", "must be > 0, got " + lrRatio);
            }
        }
    }

    private static Opts parse(Map<String, ?> m) {
        return OptionsCodec.parse(Opts.class, m, "optimizer.policy", "optimizer policy 'p'");
    }

    @Test
    void absentOptionsTakeTheRecordsDefaults() {
        assertThat(parse(null)).isEqualTo(new Opts(16.0, 64, true));
        assertThat(parse(Map.of())).isEqualTo(new Opts(null, null, null));
        assertThat(parse(Map.of("blocksize", 128, "lr_ratio", 4))).isEqualTo(new Opts(4.0, 128, true));
    }

    @Test
    void unknownKeysNameTheNearestValidOne() {
        assertThatThrownBy(() -> parse(Map.of("lr_ratoi", 4)))
                .isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("optimizer.policy.lr_ratoi: unknown option for optimizer policy 'p'")
                .hasMessageContaining("did you mean 'lr_ratio'?")
                .hasMessageContaining("[blocksize, double_quant, lr_ratio]");
    }

    @Test
    void wrongTypesAndInvalidValuesNameTheField() {
        assertThatThrownBy(() -> parse(Map.of("lr_ratio", "fast")))
                .isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("optimizer.policy.lr_ratio: expected a number, got the text \"fast\"");
        assertThatThrownBy(() -> parse(Map.of("double_quant", "maybe")))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("optimizer.policy.double_quant:");
        assertThatThrownBy(() -> parse(Map.of("lr_ratio", -1)))
                .isInstanceOf(ConfigException.class)
                .hasMessage("optimizer.policy.lr_ratio: must be > 0, got -1.0");
    }

    @Test
    void savedOptionsAreReadLenientlyAndWrittenWithEveryOption() {
        Opts saved = OptionsCodec.parseSaved(Opts.class, Map.of("blocksize", 32, "from_a_later_version", 1),
                "config.json", "quantizer 'q'");
        assertThat(saved).isEqualTo(new Opts(null, 32, null));
        assertThat(OptionsCodec.toMap(saved)).containsOnly(Map.entry("lr_ratio", 16.0),
                Map.entry("blocksize", 32), Map.entry("double_quant", true));
        assertThat(parse(OptionsCodec.toMap(saved))).isEqualTo(saved);
        assertThat(OptionsCodec.knownKeys(Opts.class)).containsExactly("blocksize", "double_quant", "lr_ratio");
    }
}
