package io.peft4j.serve.engine;

/**
 * A request the server refuses or could not finish, with what the OpenAI error object needs: the HTTP status,
 * {@code type}, {@code code} and the request field at fault ({@code param}, may be null).
 */
public final class ServeException extends RuntimeException {
    private final int status;
    private final String type;
    private final String code;
    private final String param;

    public ServeException(int status, String type, String code, String param, String message) {
        super(message);
        this.status = status;
        this.type = type;
        this.code = code;
        this.param = param;
    }

    /** 400 invalid_request_error. */
    public static ServeException invalid(String param, String message) {
        return new ServeException(400, "invalid_request_error", null, param, message);
    }

    /** 404 for a {@code model} that is neither the base, a loaded adapter nor a {@code +} list of them. */
    public static ServeException modelNotFound(String message) {
        return new ServeException(404, "invalid_request_error", "model_not_found", "model", message);
    }

    public int status() {
        return status;
    }

    public String type() {
        return type;
    }

    public String code() {
        return code;
    }

    public String param() {
        return param;
    }
}
