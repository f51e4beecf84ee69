package io.peft4j.core.train.data;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/**
 * A {@link TextEncoder} over a Hugging Face {@code tokenizer.json} (DJL's Rust tokenizers). The tokenizer runs
 * without its own special tokens; BOS is prepended here when asked, which equals the Llama tokenizer's
 * {@code add_bos_token: true} post-processing.
 */
public final class HuggingFaceTextEncoder implements TextEncoder, AutoCloseable {
    private final HuggingFaceTokenizer tokenizer;
    private final long bosId;

    /**
     * @param tokenizerJson path of {@code tokenizer.json}
     * @param bosId         the BOS id (1 for Llama)
     */
    public HuggingFaceTextEncoder(Path tokenizerJson, long bosId) {
        try {
            this.tokenizer = HuggingFaceTokenizer.builder().optTokenizerPath(tokenizerJson)
                    .optAddSpecialTokens(false).optPadding(false).optTruncation(false)
                    .build();
        } catch (IOException e) {
            throw new UncheckedIOException(tokenizerJson + ": cannot load tokenizer: " + e.getMessage(), e);
        }
        this.bosId = bosId;
    }

    @Override
    public long[] encode(String text, boolean addBos) {
        long[] ids = tokenizer.encode(text, false, false).getIds();
        if (!addBos) {
            return ids;
        }
        long[] out = new long[ids.length + 1];
        out[0] = bosId;
        System.arraycopy(ids, 0, out, 1, ids.length);
        return out;
    }

    /** The underlying tokenizer (for decoding). */
    public HuggingFaceTokenizer tokenizer() {
        return tokenizer;
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
