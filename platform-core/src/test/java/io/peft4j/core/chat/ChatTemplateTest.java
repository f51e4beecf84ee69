package io.peft4j.core.chat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading from a model directory, the registered functions, and errors that name the template line. */
class ChatTemplateTest {
    @TempDir
    Path dir;

    @Test
    void loadsTemplateAndAddedTokenObjectsFromTokenizerConfig() throws Exception {
        Files.writeString(dir.resolve("tokenizer_config.json"), """
                {"bos_token": {"content": "<s>", "lstrip": false, "special": true}, "eos_token": "</s>",
                 "pad_token": null,
                 "chat_template": "{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{{ eos_token }}{% endfor %}"}
                """);
        ChatTemplate t = ChatTemplate.fromModelDir(dir);
        assertThat(t.bosToken()).isEqualTo("<s>");
        assertThat(t.specialTokens()).doesNotContainKey("pad_token");
        assertThat(t.render(List.of(ChatMessage.user("hi"), ChatMessage.assistant("yo")), false))
                .isEqualTo("<s>[user]hi</s>[assistant]yo</s>");
    }

    @Test
    void namedTemplatesUseDefaultAndJinjaFileIsTheFallback() throws Exception {
        Files.writeString(dir.resolve("tokenizer_config.json"), """
                {"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]}
                """);
        assertThat(ChatTemplate.fromModelDir(dir).render(List.of(), false)).isEqualTo("D");
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"eos_token\": \"</s>\"}");
        Files.writeString(dir.resolve("chat_template.jinja"), "{{ eos_token }}\n");
        assertThat(ChatTemplate.fromModelDir(dir).render(List.of(), false)).isEqualTo("</s>");
    }

    @Test
    void missingTemplateSaysHowToGiveOne() throws Exception {
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"eos_token\": \"</s>\"}");
        assertThatThrownBy(() -> ChatTemplate.fromModelDir(dir)).isInstanceOf(ChatTemplateException.class)
                .hasMessageContaining("has no chat template").hasMessageContaining("data.chat_template");
    }

    @Test
    void syntaxErrorNamesTheLine() {
        String src = "{% for m in messages %}\n{{ m.content }}\n{% if m.role == 'user' %}\nX\n{% endfor %}";
        assertThatThrownBy(() -> ChatTemplate.of(src, Map.of(), "my.jinja"))
                .isInstanceOf(ChatTemplateException.class)
                .hasMessageStartingWith("my.jinja, template line ")
                .satisfies(e -> assertThat(((ChatTemplateException) e).templateLine()).isBetween(3, 5));
    }

    @Test
    void raiseExceptionCarriesTheTemplatesMessageAndLine() {
        ChatTemplate t = ChatTemplate.of("{% for m in messages %}\n{% if m.role == 'system' %}\n"
                + "{{ raise_exception('System role not supported') }}\n{% endif %}{% endfor %}", Map.of(), "g.jinja");
        assertThatThrownBy(() -> t.render(List.of(ChatMessage.system("s")), false))
                .isInstanceOf(ChatTemplateException.class)
                .hasMessageContaining("g.jinja, template line 3")
                .hasMessageContaining("System role not supported");
    }

    @Test
    void strftimeNowAndTojsonBehaveAsTransformersRegistersThem() {
        ChatTemplate t = ChatTemplate.of("{{ strftime_now('%d %b %Y') }}|{{ tools | tojson }}|{{ tools | tojson(indent=2) }}",
                Map.of(), "t");
        String today = LocalDate.now().format(DateTimeFormatter.ofPattern("dd MMM yyyy", Locale.ENGLISH));
        String out = t.render(List.of(), false, Map.of("tools", List.of(Map.of("name", "f<x>"))));
        // Python: json.dumps([{"name": "f<x>"}]) and json.dumps(..., indent=2)
        assertThat(out).isEqualTo(today + "|[{\"name\": \"f<x>\"}]|[\n  {\n    \"name\": \"f<x>\"\n  }\n]");
    }

    @Test
    void breakAndContinueWork() {
        ChatTemplate t = ChatTemplate.of("{% for m in messages %}{% if m.role == 'system' %}{% continue %}{% endif %}"
                + "{% if m.content == 'stop' %}{% break %}{% endif %}{{ m.content }};{% endfor %}", Map.of(), "t");
        assertThat(t.render(List.of(ChatMessage.system("s"), ChatMessage.user("a"), ChatMessage.user("stop"),
                ChatMessage.user("b")), false)).isEqualTo("a;");
    }
}
