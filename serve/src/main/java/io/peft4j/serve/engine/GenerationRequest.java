package io.peft4j.serve.engine;

import io.peft4j.core.model.GenerationOptions;
import java.util.List;
import java.util.Set;

/**
 * One generation: prompt ids (BOS included where wanted), sampling settings, the adapters to use and where tokens
 * go. {@link #cancel} may be called from any thread; the engine drops the row before its next decode step.
 */
public final class GenerationRequest {
    private final ServedModels.Selection selection;
    private final long[] prompt;
    private final GenerationOptions sampling;
    private final Set<Long> stopTokens;
    private final TokenSink sink;
    private final long createdNanos = System.nanoTime();
    private final long deadlineNanos;
    private volatile boolean cancelled;

    /**
     * @param maxTokens   tokens to generate at most (>= 1)
     * @param temperature 0: greedy
     * @param topP        nucleus sampling mass in (0, 1]
     * @param seed        sampler seed (the CLI's {@code --seed} draws the same tokens)
     * @param stopTokens  token ids that end the request (not emitted), normally {eos}
     * @param timeoutMillis time from now until the request is ended with {@link FinishReason#TIMEOUT}
     */
    public GenerationRequest(ServedModels.Selection selection, long[] prompt, int maxTokens, double temperature,
                             double topP, long seed, Set<Long> stopTokens, TokenSink sink, long timeoutMillis) {
        if (prompt.length == 0) {
            throw ServeException.invalid("prompt", "the prompt is empty: at least one token is needed");
        }
        this.selection = selection;
        this.prompt = prompt.clone();
        this.sampling = new GenerationOptions(maxTokens, temperature, 0, topP, seed, stopTokens, List.of(), false);
        this.stopTokens = Set.copyOf(stopTokens);
        this.sink = sink;
        this.deadlineNanos = createdNanos + timeoutMillis * 1_000_000L;
    }

    public void cancel() {
        cancelled = true;
    }

    public boolean cancelled() {
        return cancelled;
    }

    public ServedModels.Selection selection() {
        return selection;
    }

    public long[] prompt() {
        return prompt;
    }

    public int maxTokens() {
        return sampling.maxNewTokens();
    }

    GenerationOptions sampling() {
        return sampling;
    }

    Set<Long> stopTokens() {
        return stopTokens;
    }

    TokenSink sink() {
        return sink;
    }

    long createdNanos() {
        return createdNanos;
    }

    boolean expired(long now) {
        return now - deadlineNanos > 0;
    }
}
