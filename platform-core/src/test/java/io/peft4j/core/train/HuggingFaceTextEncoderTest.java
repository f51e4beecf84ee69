package io.peft4j.core.train;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peft4j.core.train.data.DataOptions;
import io.peft4j.core.train.data.Example;
import io.peft4j.core.train.data.HuggingFaceTextEncoder;
import io.peft4j.core.train.data.JsonlDataset;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The data pipeline with the real bundled stories260K tokenizer, against its golden ids (from HF transformers). */
class HuggingFaceTextEncoderTest {
    static final Path MODEL = Path.of("src/main/resources/io/peft4j/bundled/stories260K");

    @Test
    void encodesLikeTheGoldenTokenizerAndMasksThePrompt() throws IOException {
        JsonNode golden = new ObjectMapper().readTree(MODEL.resolve("tokenizer_golden.json").toFile());
        try (HuggingFaceTextEncoder enc = new HuggingFaceTextEncoder(MODEL.resolve("tokenizer.json"), 1)) {
            int checked = 0;
            for (JsonNode g : golden) {
                long[] want = new long[g.get("ids").size()];
                for (int i = 0; i < want.length; i++) {
                    want[i] = g.get("ids").get(i).asLong();
                }
                if (want.length == 0 || want[0] != 1) {
                    continue; // only the entries encoded with BOS
                }
                assertThat(enc.encode(g.get("text").asText(), true)).as(g.get("text").asText()).containsExactly(want);
                checked++;
            }
            assertThat(checked).isGreaterThan(3);

            DataOptions o = new DataOptions(64, false, true, true, 2, 0);
            Example e = JsonlDataset.parseLine("{\"prompt\": \"Once upon a time\", \"completion\": \", there was\"}",
                    "x.jsonl:1", enc, o);
            long[] prompt = enc.encode("Once upon a time", true);
            long[] full = enc.encode("Once upon a time, there was", true);
            assertThat(Arrays.copyOf(e.inputIds(), full.length)).containsExactly(full);
            assertThat(e.inputIds()[full.length]).isEqualTo(2);
            for (int i = 0; i < e.length(); i++) {
                assertThat(e.labels()[i]).isEqualTo(i < prompt.length ? Example.IGNORE_INDEX : e.inputIds()[i]);
            }
        }
    }
}
