package io.peft4j.api;

/**
 * A configuration value is invalid. The message names the field (its path in the configuration file where
 * known) and says what was expected.
 */
public class ConfigException extends RuntimeException {
    private final String field;

    public ConfigException(String field, String message) {
        super(field == null || field.isEmpty() ? message : field + ": " + message);
        this.field = field;
    }

    public ConfigException(String field, String message, Throwable cause) {
        super(field == null || field.isEmpty() ? message : field + ": " + message, cause);
        this.field = field;
    }

    /** The offending field, e.g. {@code adapters[0].r}; may be empty. */
    public String field() {
        return field;
    }

    /**
     * The same error with its field placed under {@code parent} (a plugin names {@code r}; the platform reports
     * {@code adapters.attn.r}), keeping the cause.
     */
    public ConfigException under(String parent) {
        String f = field == null || field.isEmpty() ? parent : parent + "." + field;
        return new ConfigException(f, reason(), this);
    }

    /** The message without the leading field name. */
    public String reason() {
        String msg = getMessage();
        return field != null && !field.isEmpty() && msg.startsWith(field + ": ") ? msg.substring(field.length() + 2)
                : msg;
    }
}
