package io.peft4j.core.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TextTokenizerTest {
    @TempDir
    Path tmp;

    @Test
    void matchesSentencepieceGolden() throws Exception {
        Path dir = BundledModel.stories260K();
        JsonNode cases = new ObjectMapper().readTree(dir.resolve("tokenizer_golden.json").toFile());
        assertThat(cases.size()).isEqualTo(18);
        try (TextTokenizer t = TextTokenizer.load(dir.resolve("tokenizer.json"))) {
            assertThat(t.bosId()).isEqualTo(1);
            assertThat(t.eosId()).isEqualTo(2);
            assertThat(t.vocabSize()).isEqualTo(512);
            for (JsonNode c : cases) {
                long[] expected = LlamaModelGoldenTest.longs(c.get("ids"));
                String text = c.get("text").asText();
                assertThat(t.encode(text, true)).as(text).containsExactly(expected);
                assertThat(t.encode(text, false)).containsExactly(Arrays.copyOfRange(expected, 1, expected.length));
                if (c.has("decoded")) {
                    assertThat(t.decode(expected)).as(text).isEqualTo(c.get("decoded").asText());
                }
            }
        }
    }

    @Test
    void missingOrMalformed() throws Exception {
        assertThatThrownBy(() -> TextTokenizer.load(tmp.resolve("tokenizer.json")))
                .isInstanceOf(ModelLoadException.class).hasMessageContainingAll("tokenizer.json", "not found");
        Path bad = tmp.resolve("tokenizer.json");
        Files.writeString(bad, "{\"model\": {");
        assertThatThrownBy(() -> TextTokenizer.load(bad)).isInstanceOf(ModelLoadException.class)
                .hasMessageContainingAll(bad.toString(), "not valid JSON");
        Files.writeString(bad, "{\"model\": {\"type\": \"Nonsense\"}}");
        assertThatThrownBy(() -> TextTokenizer.load(tmp)).isInstanceOf(ModelLoadException.class)
                .hasMessageContaining(bad.toString());
    }
}
