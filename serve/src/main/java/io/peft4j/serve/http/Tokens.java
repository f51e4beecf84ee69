package io.peft4j.serve.http;

import io.peft4j.core.model.TextTokenizer;

/** The model's tokenizer, shared by HTTP threads and the engine thread (calls are serialised). */
public final class Tokens {
    private final TextTokenizer tokenizer;

    public Tokens(TextTokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** Ids of a completion prompt, BOS first (as {@code peft4j generate} encodes its prompts). */
    public synchronized long[] encodePrompt(String text) {
        return tokenizer.encode(text, true);
    }

    /**
     * Ids of a rendered chat template, with nothing added: the template places the special tokens itself (as
     * transformers tokenizes it, {@code add_special_tokens=False}).
     */
    public synchronized long[] encodeRendered(String text) {
        return tokenizer.encode(text, false);
    }

    public synchronized String decode(long[] ids) {
        return tokenizer.decode(ids);
    }

    /** The text {@code newIds} add after the prompt (decoded together, as {@code peft4j generate} does). */
    public synchronized String decodeContinuation(long[] promptIds, long[] newIds) {
        return tokenizer.decodeContinuation(promptIds, newIds);
    }

    public int eosId() {
        return tokenizer.eosId();
    }

    public int vocabSize() {
        return tokenizer.vocabSize();
    }
}
