package io.peft4j.core.chat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peft4j.core.model.BundledModel;
import io.peft4j.core.model.TextTokenizer;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Real chat templates (Llama 3, Llama 3.2, Qwen2.5, Mistral Nemo, Gemma 2: the chat_template strings of their public
 * tokenizer_config.json files) rendered here against what transformers' {@code apply_chat_template} gave for the
 * same conversations ({@code tools/interop/generate_chat_templates.py}): the text with each model's special tokens,
 * the text and token ids with stories260K's tokenizer (transformers' slow LlamaTokenizer over sentencepiece), and
 * the template's own error where it raises.
 */
class ChatTemplateGoldenTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static JsonNode golden;
    private static TextTokenizer stories;

    @BeforeAll
    static void load() throws Exception {
        try (InputStream in = ChatTemplateGoldenTest.class.getResourceAsStream("/chat-templates/golden.json")) {
            golden = JSON.readTree(in);
        }
        stories = TextTokenizer.load(BundledModel.stories260K());
    }

    @AfterAll
    static void close() {
        stories.close();
    }

    static Stream<Arguments> cases() throws Exception {
        try (InputStream in = ChatTemplateGoldenTest.class.getResourceAsStream("/chat-templates/golden.json")) {
            JsonNode g = JSON.readTree(in);
            List<Arguments> out = new ArrayList<>();
            for (JsonNode c : g.get("cases")) {
                out.add(Arguments.of(c.get("template").asText() + "/" + c.get("conversation").asText() + "/gen="
                        + c.get("add_generation_prompt").asBoolean(), c));
            }
            return out.stream();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void rendersAsTransformers(String name, JsonNode c) {
        JsonNode spec = golden.get("templates").get(c.get("template").asText());
        String template = spec.get("chat_template").asText();
        List<ChatMessage> conv = conversation(c.get("conversation").asText());
        boolean gen = c.get("add_generation_prompt").asBoolean();
        Map<String, Object> kwargs = JSON.convertValue(golden.get("template_kwargs"), new TypeReference<>() { });
        ChatTemplate model = ChatTemplate.of(template, map(spec.get("special_tokens")), name);
        if (c.has("error")) {
            assertThatThrownBy(() -> model.render(conv, gen, kwargs))
                    .isInstanceOf(ChatTemplateException.class)
                    .hasMessageContaining(name)
                    .hasMessageContaining(c.get("error").asText());
            return;
        }
        assertThat(model.render(conv, gen, kwargs)).isEqualTo(c.get("text").asText());

        ChatTemplate withStories = ChatTemplate.of(template, map(golden.get("stories_special_tokens")), name);
        String storiesText = withStories.render(conv, gen, kwargs);
        assertThat(storiesText).isEqualTo(c.get("stories_text").asText());
        long[] expected = JSON.convertValue(c.get("stories_ids"), long[].class);
        assertThat(stories.encode(storiesText, false)).containsExactly(expected);
    }

    private static List<ChatMessage> conversation(String name) {
        List<ChatMessage> out = new ArrayList<>();
        for (JsonNode m : golden.get("conversations").get(name)) {
            out.add(new ChatMessage(m.get("role").asText(), m.get("content").asText()));
        }
        return out;
    }

    private static Map<String, Object> map(JsonNode n) {
        return JSON.convertValue(n, new TypeReference<LinkedHashMap<String, Object>>() { });
    }
}
