package io.peft4j.core.util;

import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/** "Did you mean" helpers for error messages. */
public final class Suggestions {
    private Suggestions() {
    }

    /** The candidates closest to {@code word} by edit distance (case-insensitive), best first, at most {@code max}. */
    public static List<String> closest(String word, Collection<String> candidates, int max) {
        String w = word.toLowerCase(Locale.ROOT);
        return candidates.stream().distinct()
                .sorted(Comparator.comparingInt((String c) -> distance(w, c.toLowerCase(Locale.ROOT)))
                        .thenComparing(c -> c))
                .limit(max).toList();
    }

    /** The single nearest candidate, or null if there are none. */
    public static String nearest(String word, Collection<String> candidates) {
        List<String> c = closest(word, candidates, 1);
        return c.isEmpty() ? null : c.get(0);
    }

    /** Levenshtein distance. */
    public static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }
}
