package io.peft4j.bench;

import io.peft4j.core.model.LlamaConfig;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The random-weight model shapes of the peer benchmark ({@code SIZES} in {@code peer_lora_bench.py}), with their
 * default batch and sequence length. RMSNorm eps 1e-5, RoPE theta 1e4, untied lm_head, no biases.
 */
public enum BenchShape {
    /** llama2.c stories260K-like (0.29M parameters). */
    TINY(64, 5, 8, 4, 172, 512, 8, 256),
    /** llama2.c stories15M-like (24.4M parameters with the untied lm_head). */
    SMALL(288, 6, 6, 6, 768, 32000, 8, 256),
    /** 110M-class (134.1M with untied embeddings and lm_head). */
    MEDIUM(768, 12, 12, 12, 2048, 32000, 4, 256);

    public final int dim;
    public final int layers;
    public final int heads;
    public final int kvHeads;
    public final int hidden;
    public final int vocab;
    public final int batch;
    public final int seq;

    BenchShape(int dim, int layers, int heads, int kvHeads, int hidden, int vocab, int batch, int seq) {
        this.dim = dim;
        this.layers = layers;
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.hidden = hidden;
        this.vocab = vocab;
        this.batch = batch;
        this.seq = seq;
    }

    /** The lower-case name used in options and JSON ({@code tiny}, {@code small}, {@code medium}). */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses {@code tiny|small|medium} (case-insensitive). */
    public static BenchShape parse(String s) {
        for (BenchShape b : values()) {
            if (b.id().equalsIgnoreCase(s.trim())) {
                return b;
            }
        }
        throw new IllegalArgumentException("unknown bench size '" + s + "' (expected one of "
                + Arrays.stream(values()).map(BenchShape::id).toList() + ")");
    }

    /** The Llama config of this shape (max positions 2048, as the peer's RoPE table). */
    public LlamaConfig config() {
        return new LlamaConfig("llama", dim, hidden, heads, kvHeads, dim / heads, layers, vocab, 2048, 1e-5, 10000.0,
                null, false, false, false, 1, List.of(2), "float32");
    }
}
