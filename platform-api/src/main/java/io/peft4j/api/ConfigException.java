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
}
