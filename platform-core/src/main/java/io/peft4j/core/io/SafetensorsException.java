package io.peft4j.core.io;

/**
 * A safetensors file (or sharded checkpoint index) is malformed or does not hold what was asked for. The message
 * always names the file and, where one is involved, the tensor.
 */
public class SafetensorsException extends RuntimeException {
    public SafetensorsException(String message) {
        super(message);
    }

    public SafetensorsException(String message, Throwable cause) {
        super(message, cause);
    }
}
