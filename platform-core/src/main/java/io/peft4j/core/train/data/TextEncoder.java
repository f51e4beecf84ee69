package io.peft4j.core.train.data;

/** Text to token ids, as the data pipeline needs it (a Hugging Face tokenizer, or anything else). */
@FunctionalInterface
public interface TextEncoder {

    /**
     * @param text   the text, without special tokens
     * @param addBos whether to prepend the beginning-of-sequence token
     * @return the token ids
     */
    long[] encode(String text, boolean addBos);
}
