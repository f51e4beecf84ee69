package io.peft4j.core.model;

/**
 * Token ids of a text with the text span each token came from.
 *
 * @param ids    the token ids (no special tokens added)
 * @param starts per token, the index in the text (Java {@code char} index) where its span starts
 * @param ends   per token, the index just past its span
 */
public record TokenizedText(long[] ids, int[] starts, int[] ends) {
    public TokenizedText {
        if (ids.length != starts.length || ids.length != ends.length) {
            throw new IllegalArgumentException("ids, starts and ends must have the same length");
        }
    }
}
