package io.peft4j.core.chat;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * One chat turn, as Hugging Face chat templates see it ({@code {"role": ..., "content": ...}}).
 *
 * @param role    {@code system}, {@code user}, {@code assistant}, {@code tool} or any role the template knows
 * @param content the text of the turn
 * @param extra   further keys the template may read (e.g. {@code tool_calls}, {@code name}); values are plain
 *                JSON-like Java values (String, Number, Boolean, List, Map); empty for a plain turn
 */
public record ChatMessage(String role, String content, Map<String, Object> extra) {
    public ChatMessage {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(content, "content");
        extra = extra == null ? Map.of() : Map.copyOf(extra);
    }

    public ChatMessage(String role, String content) {
        this(role, content, Map.of());
    }

    public static ChatMessage system(String content) {
        return new ChatMessage("system", content);
    }

    public static ChatMessage user(String content) {
        return new ChatMessage("user", content);
    }

    public static ChatMessage assistant(String content) {
        return new ChatMessage("assistant", content);
    }

    /** The message as the template variable {@code messages[i]}: role, content, then the extra keys. */
    public Map<String, Object> asTemplateValue() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("role", role);
        m.put("content", content);
        m.putAll(extra);
        return m;
    }
}
