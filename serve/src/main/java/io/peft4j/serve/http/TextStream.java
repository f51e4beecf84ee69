package io.peft4j.serve.http;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * Turns generated token ids into text pieces for streaming. The text so far is the decoding of all generated ids
 * (as the CLI decodes them); a piece is released only when it cannot change: not while the text ends in an
 * incomplete UTF-8 sequence (decoded as U+FFFD), and not while its end could still grow into a stop string. When a
 * stop string appears the text is cut before it. Streaming and non-streaming responses both use this, so the
 * concatenated pieces are the final text.
 */
final class TextStream {
    private static final char REPLACEMENT = '\uFFFD';

    private final Function<long[], String> decode;
    private final List<String> stops;
    private final List<Long> ids = new ArrayList<>();
    private String text = "";
    private int released;
    private boolean stopped;

    TextStream(Function<long[], String> decode, List<String> stops) {
        this.decode = decode;
        this.stops = stops.stream().filter(s -> !s.isEmpty()).toList();
    }

    /** Adds a token; returns the text now safe to release (possibly empty). Check {@link #stopped()} after. */
    String push(long id) {
        ids.add(id);
        String full = decode.apply(ids.stream().mapToLong(Long::longValue).toArray());
        int cut = -1;
        for (String s : stops) {
            int at = full.indexOf(s);
            if (at >= 0 && (cut < 0 || at < cut)) {
                cut = at;
            }
        }
        if (cut >= 0) {
            stopped = true;
            text = full.substring(0, cut);
            return release(text.length());
        }
        text = full;
        int safe = full.length();
        while (safe > 0 && full.charAt(safe - 1) == REPLACEMENT) {
            safe--;
        }
        return release(safe - heldForStop(full.substring(0, safe)));
    }

    /** The rest of the text once generation has ended. */
    String finish() {
        return release(text.length());
    }

    boolean stopped() {
        return stopped;
    }

    /** The text released so far. */
    String released() {
        return text.substring(0, released);
    }

    /** Length of the longest end of {@code s} that is the start of a stop string. */
    private int heldForStop(String s) {
        int hold = 0;
        for (String stop : stops) {
            for (int k = Math.min(stop.length() - 1, s.length()); k > hold; k--) {
                if (s.endsWith(stop.substring(0, k))) {
                    hold = k;
                    break;
                }
            }
        }
        return hold;
    }

    private String release(int upTo) {
        if (upTo <= released) {
            return "";
        }
        String piece = text.substring(released, upTo);
        released = upTo;
        return piece;
    }
}
