package io.peft4j.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.peft4j.api.ConfigException;
import io.peft4j.core.chat.ChatMessage;
import io.peft4j.core.chat.ChatTemplate;
import io.peft4j.core.chat.ChatTemplateException;
import io.peft4j.serve.engine.ServeException;
import io.peft4j.serve.http.ChatFormat;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** The chat template of a served model, rendered by {@link ChatTemplate} (transformers' apply_chat_template). */
public final class ChatFormats {
    private ChatFormats() {
    }

    /**
     * The template in {@code file} if given (special tokens from the model's tokenizer_config.json), else the model
     * directory's own; null when the model has none.
     */
    public static ChatFormat forModel(Path modelDir, Path file) {
        ChatTemplate t;
        if (file != null) {
            String text;
            try {
                text = Files.readString(file, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new ConfigException("--chat-template", file + " cannot be read: " + e.getMessage());
            }
            t = ChatTemplate.of(text, ChatTemplate.specialTokensOf(modelDir.resolve("tokenizer_config.json")),
                    file.toString());
        } else if (declaresTemplate(modelDir)) {
            t = ChatTemplate.fromModelDir(modelDir);
        } else {
            return null;
        }
        return of(t);
    }

    /** A chat format over a template; template errors (raise_exception, ...) become 400s naming messages. */
    public static ChatFormat of(ChatTemplate t) {
        return new ChatFormat() {
            @Override
            public String render(List<Message> messages) {
                try {
                    return t.render(messages.stream().map(m -> new ChatMessage(m.role(), m.content())).toList(),
                            true);
                } catch (ChatTemplateException e) {
                    throw ServeException.invalid("messages", "the chat template refused the messages: "
                            + e.getMessage());
                }
            }

            @Override
            public String source() {
                return t.source();
            }
        };
    }

    private static boolean declaresTemplate(Path modelDir) {
        if (Files.isRegularFile(modelDir.resolve("chat_template.jinja"))) {
            return true;
        }
        Path config = modelDir.resolve("tokenizer_config.json");
        try {
            return Files.isRegularFile(config) && new ObjectMapper().readTree(config.toFile()).has("chat_template");
        } catch (IOException e) {
            throw new ConfigException(config.toString(), "is not valid JSON: " + e.getMessage());
        }
    }
}
