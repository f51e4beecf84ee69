package io.peft4j.core.run;

import static org.assertj.core.api.Assertions.assertThat;

import io.peft4j.core.config.RunConfigParser;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code peft4j data preview}: the rendered chat, the loss span and the counts. */
class DataPreviewTest {
    @TempDir
    Path dir;

    @Test
    void showsRenderedChatWithTheAssistantTurnMarked() throws Exception {
        Path data = dir.resolve("chat.jsonl");
        Files.writeString(data, "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", "
                + "\"content\": \"Once upon a time\"}]}\n");
        Path template = dir.resolve("t.jinja");
        Files.writeString(template, "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}"
                + "{% if m.role == 'assistant' %}{{ eos_token }}{% endif %}{% endfor %}"
                + "{% if add_generation_prompt %}<assistant>{% endif %}");
        String yaml = "model: {path: bundled:stories260K}\ndata: {train: \"" + data + "\", chat_template: \"" + template
                + "\"}\n";
        String out = DataPreview.of(RunConfigParser.parse(yaml, true), 2);
        assertThat(out).contains("format messages (detected), 1 rows, 1 examples");
        // the generation prompt is not learned; the assistant text and the eos_token after it are
        assertThat(out).contains("<user>Hi<assistant>«Once upon a time</s>»\n");
        assertThat(out).containsPattern("example 1 \\(.*chat.jsonl:1\\): \\d+ tokens, loss on \\d+: tokens \\d+-\\d+");
    }
}
