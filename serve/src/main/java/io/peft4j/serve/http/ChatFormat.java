package io.peft4j.serve.http;

import java.util.List;

/** Renders a chat request's messages into the prompt text the model was tuned on (its chat template). */
public interface ChatFormat {
    /** One message of a chat request. */
    record Message(String role, String content) {
    }

    /** The prompt text for {@code messages}, ending with the cue for the assistant's turn. */
    String render(List<Message> messages);

    /** Where the template came from (a file), for {@code /health}. */
    String source();
}
