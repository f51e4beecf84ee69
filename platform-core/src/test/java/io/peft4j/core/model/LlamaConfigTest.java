package io.peft4j.core.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.peft4j.api.ConfigException;
import org.junit.jupiter.api.Test;

class LlamaConfigTest {
    private static final String BASE = "\"hidden_size\":64,\"intermediate_size\":172,\"num_attention_heads\":8,"
            + "\"num_hidden_layers\":2,\"vocab_size\":100,\"max_position_embeddings\":128";

    private static LlamaConfig parse(String extra) {
        return LlamaConfig.parse("{" + BASE + extra + "}", "/m/config.json");
    }

    @Test
    void defaults() {
        LlamaConfig c = parse(",\"model_type\":\"llama\",\"eos_token_id\":[2,7]");
        assertThat(c.numKeyValueHeads()).isEqualTo(8);
        assertThat(c.headDim()).isEqualTo(8);
        assertThat(c.ropeTheta()).isEqualTo(10000.0);
        assertThat(c.ropeScaling()).isNull();
        assertThat(c.eosTokenIds()).containsExactly(2, 7);
        assertThat(c.tieWordEmbeddings()).isFalse();
        assertThat(c.bosTokenId()).isEqualTo(-1);
        float[] inv = c.ropeInverseFrequencies();
        assertThat(inv[0]).isEqualTo(1f);
        assertThat((double) inv[1]).isCloseTo(Math.pow(10000, -0.25), org.assertj.core.api.Assertions.within(1e-7));
    }

    @Test
    void llama3Scaling() {
        LlamaConfig c = parse(",\"model_type\":\"llama\",\"rope_theta\":500000.0,\"rope_scaling\":{\"rope_type\":"
                + "\"llama3\",\"factor\":8.0,\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,"
                + "\"original_max_position_embeddings\":8192}");
        LlamaConfig plain = parse(",\"model_type\":\"llama\",\"rope_theta\":500000.0");
        float[] s = c.ropeInverseFrequencies();
        float[] p = plain.ropeInverseFrequencies();
        // Wavelength 2π < 8192/4: kept; wavelength 1.2e5 > 8192: divided by the factor; 4443 in between: blended
        // (1 - s) f / 8 + s f with s = (8192 / wavelength - 1) / (4 - 1).
        assertThat(s[0]).isEqualTo(p[0]);
        assertThat((double) s[3]).isCloseTo(p[3] / 8.0, org.assertj.core.api.Assertions.within(1e-9));
        double wl = 2 * Math.PI / p[2];
        double sm = (8192 / wl - 1) / 3;
        assertThat((double) s[2]).isCloseTo((1 - sm) * p[2] / 8 + sm * p[2], org.assertj.core.api.Assertions.within(1e-9));
        assertThat(s[2]).isLessThan(p[2]).isGreaterThan(p[2] / 8);
    }

    @Test
    void errorsNameFileAndField() {
        assertThatThrownBy(() -> LlamaConfig.parse("{\"model_type\":\"llama\"}", "/m/config.json"))
                .isInstanceOf(ConfigException.class).hasMessageContainingAll("/m/config.json", "'hidden_size'");
        assertThatThrownBy(() -> parse(",\"model_type\":\"gpt2\"")).hasMessageContainingAll("gpt2", "llama");
        assertThatThrownBy(() -> parse("")).hasMessageContaining("model_type");
        assertThatThrownBy(() -> parse(",\"model_type\":\"llama\",\"rope_scaling\":{\"type\":\"yarn\",\"factor\":2}"))
                .hasMessageContainingAll("rope_scaling", "yarn");
        assertThatThrownBy(() -> parse(",\"model_type\":\"llama\",\"num_key_value_heads\":3"))
                .hasMessageContaining("num_key_value_heads");
        assertThatThrownBy(() -> parse(",\"model_type\":\"llama\",\"rms_norm_eps\":\"x\""))
                .hasMessageContainingAll("rms_norm_eps", "number");
        assertThat(parse(",\"model_type\":\"qwen2\",\"eos_token_id\":5").eosTokenIds()).containsExactly(5);
    }

    /** Zero, negative and non-dividing sizes fail naming the file and the field, never with a JDK exception. */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource(delimiter = '|', value = {
        "\"num_attention_heads\":0                      | num_attention_heads | positive integer",
        "\"num_attention_heads\":-8                     | num_attention_heads | positive integer",
        "\"hidden_size\":0                              | hidden_size         | positive integer",
        "\"num_key_value_heads\":0                      | num_key_value_heads | positive integer",
        "\"num_key_value_heads\":3                      | num_key_value_heads | multiple of",
        "\"num_attention_heads\":7                      | num_attention_heads | hidden_size (64) must be a multiple",
        "\"head_dim\":0                                 | head_dim            | positive integer",
        "\"head_dim\":7                                 | head_dim            | even",
        "\"head_dim\":1073741824                        | head_dim            | exceeds",
        "\"intermediate_size\":-1                       | intermediate_size   | positive integer",
        "\"num_hidden_layers\":0                        | num_hidden_layers   | positive integer",
        "\"vocab_size\":0                               | vocab_size          | positive integer",
        "\"max_position_embeddings\":0                  | max_position_embeddings | positive integer",
        "\"rms_norm_eps\":0                             | rms_norm_eps        | positive number",
        "\"rope_theta\":-1                              | rope_theta          | positive number",
        "\"rope_scaling\":{\"rope_type\":\"linear\",\"factor\":0} | factor | positive number",
        "\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":8,\"low_freq_factor\":4,\"high_freq_factor\":4,\"original_max_position_embeddings\":8192} | high_freq_factor | larger than",
    })
    void malformedSizesAreFormatErrors(String override, String field, String expected,
                                       @org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) throws Exception {
        java.nio.file.Path file = tmp.resolve("config.json");
        // Later keys win in Jackson's tree model: the override replaces BASE's value.
        java.nio.file.Files.writeString(file, "{" + BASE + ",\"model_type\":\"llama\"," + override + "}");
        assertThatThrownBy(() -> LlamaConfig.load(file)).isInstanceOf(ConfigException.class)
                .hasMessageContainingAll(file.toString(), field, expected);
    }
}
