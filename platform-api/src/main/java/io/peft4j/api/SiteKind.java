package io.peft4j.api;

/**
 * Where in a transformer an adapter can attach. The model exposes every site it has with a {@link SiteInfo}.
 */
public enum SiteKind {
    /** A linear projection {@code y = x W^T + b}, e.g. {@code model.layers.0.self_attn.q_proj} (LoRA family). */
    LINEAR,
    /**
     * The output of a whole sub-layer before the residual add, e.g. {@code model.layers.0.mlp} or
     * {@code model.layers.0.self_attn} (bottleneck adapters).
     */
    SUBLAYER_OUTPUT,
    /** The keys and values of one attention layer, e.g. {@code model.layers.0.self_attn} (prefix tuning). */
    ATTENTION_KV,
    /** The input embeddings of the whole model, {@code model.embed_tokens} (prompt tuning). */
    INPUT_EMBEDDING
}
