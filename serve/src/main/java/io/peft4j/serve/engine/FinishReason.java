package io.peft4j.serve.engine;

/** Why a request's generation ended; {@link #openAi()} is OpenAI's {@code finish_reason}. */
public enum FinishReason {
    /** An end-of-sequence token or a stop string. */
    STOP,
    /** {@code max_tokens} reached. */
    LENGTH,
    /** The client went away or cancelled. */
    CANCELLED,
    /** The per-request timeout passed. */
    TIMEOUT;

    public String openAi() {
        return this == LENGTH ? "length" : "stop";
    }
}
