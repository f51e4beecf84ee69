package io.peft4j.core.train.data;

/** A data file is unusable; the message starts with the file (and line, where there is one). */
public class DatasetException extends RuntimeException {
    public DatasetException(String message) {
        super(message);
    }

    public DatasetException(String message, Throwable cause) {
        super(message, cause);
    }
}
