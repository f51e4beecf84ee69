package io.peft4j.serve.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * Streaming text pieces: nothing is released that could still turn into a stop string or an incomplete UTF-8
 * character, and the pieces always add up to the final text.
 */
class TextStreamTest {
    /** Token i decodes to WORDS[i]; "\uFFFD" stands for a byte of a character that is not complete yet. */
    private static final String[] WORDS = {"Once", " upon", " a", " ti", "me", " \uFFFD", "\u00e9", " E", "ND", "!"};

    private static final Function<long[], String> DECODE = ids -> {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < ids.length; i++) {
            String w = WORDS[(int) ids[i]];
            // an incomplete character followed by its continuation decodes to the whole character
            if (w.equals("\u00e9") && sb.length() > 0 && sb.charAt(sb.length() - 1) == '\uFFFD') {
                sb.setLength(sb.length() - 1);
            }
            sb.append(w);
        }
        return sb.toString();
    };

    private static List<String> run(TextStream t, long... ids) {
        List<String> pieces = new ArrayList<>();
        for (long id : ids) {
            pieces.add(t.push(id));
            if (t.stopped()) {
                break;
            }
        }
        pieces.add(t.finish());
        return pieces;
    }

    @Test
    void holdsBackPossibleStopStringsAndCutsAtTheFirstMatch() {
        TextStream t = new TextStream(DECODE, List.of(" time", "END"));
        List<String> pieces = run(t, 0, 1, 2, 3, 4, 7, 8);
        // " ti" could start " time": held until "me" completes it, then the text stops before it.
        assertThat(pieces).containsExactly("Once", " upon", " a", "", "", "");
        assertThat(String.join("", pieces)).isEqualTo("Once upon a").isEqualTo(t.released());
        assertThat(t.stopped()).isTrue();
    }

    @Test
    void releasesHeldTextWhenItDoesNotBecomeAStopString() {
        TextStream t = new TextStream(DECODE, List.of(" time!"));
        List<String> pieces = run(t, 0, 3, 4, 9);
        assertThat(pieces).containsExactly("Once", "", "", "", "");
        // " time" + "!" would be the stop string, but the tokens were " ti", "me", "!": " time!" matched.
        assertThat(t.stopped()).isTrue();
        assertThat(String.join("", pieces)).isEqualTo("Once");

        TextStream u = new TextStream(DECODE, List.of(" tide"));
        List<String> upieces = run(u, 0, 3, 4);
        assertThat(upieces).containsExactly("Once", "", " time", "");
        assertThat(u.stopped()).isFalse();
    }

    @Test
    void waitsForIncompleteCharacters() {
        TextStream t = new TextStream(DECODE, List.of());
        List<String> pieces = run(t, 0, 5, 6, 2);
        assertThat(pieces).containsExactly("Once", " ", "\u00e9", " a", "");
        assertThat(String.join("", pieces)).isEqualTo(DECODE.apply(new long[] {0, 5, 6, 2}));
    }
}
