package io.peft4j.core.chat;

/**
 * A chat template could not be loaded or rendered. The message names the template's source (file) and, where the
 * template engine reports one, the template line; a {@code raise_exception(...)} in the template is reported with
 * its own message.
 */
public class ChatTemplateException extends RuntimeException {
    private final int templateLine;

    public ChatTemplateException(String message, int templateLine) {
        super(message);
        this.templateLine = templateLine;
    }

    public ChatTemplateException(String message, int templateLine, Throwable cause) {
        super(message, cause);
        this.templateLine = templateLine;
    }

    /** 1-based line of the template the error is on, or -1 when unknown. */
    public int templateLine() {
        return templateLine;
    }
}
