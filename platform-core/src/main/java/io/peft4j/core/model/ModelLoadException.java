package io.peft4j.core.model;

/** A model directory cannot be loaded: missing files, missing tensors, wrong shapes. The message names the path. */
public class ModelLoadException extends RuntimeException {
    public ModelLoadException(String message) {
        super(message);
    }

    public ModelLoadException(String message, Throwable cause) {
        super(message, cause);
    }
}
