package io.peft4j.api;

/**
 * The options of a {@link Quantizer}, {@link RankAllocator}, {@link OptimizerPolicy} or {@link Merger}, as
 * {@link AdapterConfig} is a method's: an immutable record whose {@code @JsonProperty} names are the configuration's
 * keys ({@code quantization.options}, {@code rank_allocator}, {@code optimizer.policy}, the merge options), with
 * defaults applied in its compact constructor. The platform parses the user's options into the extension's
 * {@code optionsType()} when the configuration is validated, before any tensor exists: strictly (unknown keys are
 * errors naming the nearest valid key, wrong types name the field), then calls {@link #validate()}; the extension
 * receives the typed record.
 */
public interface ExtensionOptions {

    /**
     * Checks values that do not depend on the model or the run (ranges, incompatible options). Throw
     * {@link ConfigException} naming the option and what was expected.
     */
    default void validate() {
    }
}
