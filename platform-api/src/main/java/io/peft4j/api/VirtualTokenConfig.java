package io.peft4j.api;

import com.fasterxml.jackson.annotation.JsonIgnore;

/**
 * Capability of a prompt-learning configuration (prompt tuning, prefix tuning): the adapter occupies
 * {@link #virtualTokens()} positions of the model's context (PEFT's {@code num_virtual_tokens}), which the platform
 * adds to the sequence length when it checks a run against {@code max_position_embeddings}.
 */
public interface VirtualTokenConfig extends AdapterConfig {

    /** The number of context positions the adapter takes, {@code >= 0}. */
    @JsonIgnore
    int virtualTokens();
}
