package io.peft4j.serve.engine;

/**
 * Receives a request's tokens. Called on the engine thread, between decode steps: implementations hand work to
 * another thread instead of blocking (writing to a socket here would stall every row of the batch).
 */
public interface TokenSink {
    /**
     * A generated token (never the stop token itself).
     *
     * @return false to end the request now with {@link FinishReason#STOP} (a stop string matched)
     */
    boolean onToken(long tokenId);

    /** Generation ended; no more calls follow. */
    void onFinish(FinishReason reason, int promptTokens, int completionTokens);

    /** The request failed (a server error); no more calls follow. */
    void onError(ServeException error);
}
