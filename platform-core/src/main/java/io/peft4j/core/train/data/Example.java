package io.peft4j.core.train.data;

import io.peft4j.core.model.loss.CausalLmLoss;

/**
 * One tokenized training example.
 *
 * @param inputIds the tokens
 * @param labels   same length as {@code inputIds}: the token where its loss counts, {@link #IGNORE_INDEX} where it does
 *                 not (prompt tokens); unshifted (the loss shifts, as Hugging Face does)
 * @param source   file and line it came from, e.g. {@code train.jsonl:12}, for messages
 */
public record Example(long[] inputIds, long[] labels, String source) {
    /** Label of a position that is not counted in the loss (PyTorch's {@code ignore_index}): the loss's own. */
    public static final long IGNORE_INDEX = CausalLmLoss.IGNORE_INDEX;

    public Example {
        if (inputIds.length != labels.length) {
            throw new IllegalArgumentException(source + ": " + inputIds.length + " input ids but " + labels.length
                    + " labels");
        }
    }

    public int length() {
        return inputIds.length;
    }
}
