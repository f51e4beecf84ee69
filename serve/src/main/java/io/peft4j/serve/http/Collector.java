package io.peft4j.serve.http;

import io.peft4j.serve.engine.FinishReason;
import io.peft4j.serve.engine.ServeException;
import io.peft4j.serve.engine.TokenSink;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The sink of one HTTP request: the engine thread turns tokens into text pieces ({@link TextStream}) and queues
 * them; the request's own thread takes them and writes them to the client.
 */
final class Collector implements TokenSink {
    /** Something for the HTTP thread. */
    sealed interface Event permits Piece, Done, Failed {
    }

    record Piece(String text) implements Event {
    }

    record Done(FinishReason reason, int promptTokens, int completionTokens) implements Event {
    }

    record Failed(ServeException error) implements Event {
    }

    private final TextStream text;
    private final LinkedBlockingQueue<Event> events = new LinkedBlockingQueue<>();

    Collector(Tokens tokens, long[] promptIds, List<String> stops) {
        this.text = new TextStream(ids -> tokens.decodeContinuation(promptIds, ids), stops);
    }

    @Override
    public boolean onToken(long tokenId) {
        String piece = text.push(tokenId);
        if (!piece.isEmpty()) {
            events.add(new Piece(piece));
        }
        return !text.stopped();
    }

    @Override
    public void onFinish(FinishReason reason, int promptTokens, int completionTokens) {
        String rest = text.finish();
        if (!rest.isEmpty()) {
            events.add(new Piece(rest));
        }
        events.add(new Done(reason, promptTokens, completionTokens));
    }

    @Override
    public void onError(ServeException error) {
        events.add(new Failed(error));
    }

    /** The next event, or null after {@code millis} without one. */
    Event next(long millis) throws InterruptedException {
        return events.poll(millis, TimeUnit.MILLISECONDS);
    }
}
