package io.peft4j.serve;

import io.peft4j.serve.http.ChatFormat;
import java.nio.file.Path;

/** The chat template of a served model. */
final class ChatFormats {
    private ChatFormats() {
    }

    /**
     * The template from {@code file} if given, else the model directory's; null when neither exists.
     */
    static ChatFormat forModel(Path modelDir, Path file) {
        return null;
    }
}
