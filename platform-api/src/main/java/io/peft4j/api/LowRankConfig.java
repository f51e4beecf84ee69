package io.peft4j.api;

import com.fasterxml.jackson.annotation.JsonIgnore;

/**
 * Capability of a LoRA-family configuration (LoRA, DoRA): its {@link LowRankSettings} can be read and replaced, and
 * so can its targets, on a copy. The platform uses it where it builds a new adapter config from an existing one
 * (an {@link Initializer}'s conversion for the original base, a {@link Merger}'s combined adapter), so no code outside
 * the method edits the method's fields by name.
 */
public interface LowRankConfig extends AdapterConfig {

    /** The rank, alpha, rsLoRA flag, patterns and initializer in force. */
    @JsonIgnore
    LowRankSettings lowRank();

    /** A copy with the given low-rank settings; everything else (targets, dropout, ...) unchanged. */
    LowRankConfig withLowRank(LowRankSettings settings);

    /**
     * A copy with PEFT's {@code target_modules} replaced: a list of names, one regex, or {@code "all-linear"}
     * ({@link TargetSpec#fromPeft}).
     */
    LowRankConfig withTargetModules(Object targetModules);
}
