package io.peft4j.core.train.data;

/**
 * How examples are tokenized.
 *
 * @param maxLength  the model context: the most tokens one example may have ({@code >= 2})
 * @param truncate   whether a longer example is cut to its first {@code maxLength} tokens ({@code true}) or rejected
 *                   with an error naming its line ({@code false})
 * @param addBos     whether the text (or the prompt) starts with the BOS token
 * @param appendEos  whether {@code eosId} is appended (it is a label, so the model learns to stop)
 * @param eosId      the end-of-sequence id (used when {@code appendEos})
 * @param padId      the id written into padded positions (masked out of attention and loss)
 */
public record DataOptions(int maxLength, boolean truncate, boolean addBos, boolean appendEos, long eosId, long padId) {
    public DataOptions {
        if (maxLength < 2) {
            throw new IllegalArgumentException("maxLength must be >= 2 (one input and one label), got " + maxLength);
        }
    }
}
