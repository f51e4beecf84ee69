package io.peft4j.api;

/**
 * What a trainable parameter is, independent of the method that owns it. Optimizer policies select parameters
 * by role (LoRA+ gives {@link #UP} a higher learning rate), so they compose with any method that labels its
 * parameters correctly.
 */
public enum ParamRole {
    /** Down-projection of a factorised update ({@code lora_A}, {@code [r, in]}). */
    DOWN,
    /** Up-projection of a factorised update ({@code lora_B}, {@code [out, r]}). */
    UP,
    /** Bias of the up-projection ({@code lora_B.bias}). */
    UP_BIAS,
    /** Singular values / per-rank scales between DOWN and UP (AdaLoRA {@code lora_E}). */
    RANK_SCALE,
    /** Per-output magnitude (DoRA {@code lora_magnitude_vector}). */
    MAGNITUDE,
    /** Learned scaling vectors (VeRA {@code lambda_b}/{@code lambda_d}, IA3). */
    VECTOR,
    /** Down-projection of an embedding LoRA ({@code lora_embedding_A}). */
    EMBEDDING_DOWN,
    /** Up-projection of an embedding LoRA ({@code lora_embedding_B}). */
    EMBEDDING_UP,
    /** Virtual-token embeddings (prompt tuning). */
    PROMPT,
    /** Key/value prefixes (prefix tuning). */
    PREFIX,
    /** Weights of a small dense module (bottleneck adapter projections, prefix reparameterisation MLP). */
    DENSE,
    /** A bias of the base model or of a dense module. */
    BIAS,
    /** A normalisation weight of the base model. */
    NORM,
    /** Frozen shared state that is still part of the adapter (VeRA projections). Never trained. */
    FROZEN_STATE
}
