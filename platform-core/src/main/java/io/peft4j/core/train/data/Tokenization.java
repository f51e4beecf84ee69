package io.peft4j.core.train.data;

import io.peft4j.core.model.TextTokenizer;
import io.peft4j.core.model.TokenizedText;

/** What the dataset readers need of a tokenizer: ids (optionally with BOS) and, for chat data, token spans. */
public interface Tokenization extends TextEncoder {

    /** Ids of {@code text} without special tokens added, with each token's span in the text. */
    TokenizedText encodeWithOffsets(String text);

    /** The model's tokenizer. */
    static Tokenization of(TextTokenizer tokenizer) {
        return new Tokenization() {
            @Override
            public long[] encode(String text, boolean addBos) {
                return tokenizer.encode(text, addBos);
            }

            @Override
            public TokenizedText encodeWithOffsets(String text) {
                return tokenizer.encodeWithOffsets(text);
            }
        };
    }

    /** An encoder without spans (plain and prompt/completion data only). */
    static Tokenization withoutOffsets(TextEncoder encoder) {
        return new Tokenization() {
            @Override
            public long[] encode(String text, boolean addBos) {
                return encoder.encode(text, addBos);
            }

            @Override
            public TokenizedText encodeWithOffsets(String text) {
                throw new UnsupportedOperationException("this encoder gives no token spans (chat data needs them)");
            }
        };
    }
}
