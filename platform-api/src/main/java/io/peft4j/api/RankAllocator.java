package io.peft4j.api;

import ai.djl.ndarray.NDArray;
import java.util.Map;
import org.pf4j.ExtensionPoint;

/**
 * Decides the rank of each adapted module, statically (before creation) or during training (AdaLoRA's budget
 * schedule). Selected by {@code rank_allocator:} in the configuration.
 *
 * @param <O> the options record (the keys of {@code rank_allocator:} besides {@code id}), see
 *            {@link ExtensionOptions}
 */
public interface RankAllocator<O extends ExtensionOptions> extends ExtensionPoint {

    /** The id, e.g. {@code adalora}. */
    String id();

    /** One line for {@code peft4j plugins}. */
    String description();

    /** Whether this allocator can drive adapters of the given method id. */
    boolean supports(String method);

    /** The options record type; the platform parses {@code rank_allocator:} into it and validates it. */
    Class<O> optionsType();

    /**
     * Checks the options against the configuration of the adapter they drive (one the allocator
     * {@link #supports}), when the run configuration is validated, before any tensor exists. Throw
     * {@link ConfigException} naming the option.
     */
    default void validate(AdapterConfig config, O options) {
    }

    /**
     * Starts allocation for one adapter.
     *
     * @param options    the parsed allocator options
     * @param totalSteps the number of optimizer steps the run will make
     */
    Schedule start(AdapterInstance adapter, O options, int totalSteps);

    /** Per-run allocation state. */
    interface Schedule {
        /**
         * Called after {@code backward()} and the optimizer step of global step {@code step} (1-based), while
         * gradients are still readable, before they are cleared.
         */
        void afterStep(int step);

        /** Current ranks per site path, for reporting. */
        Map<String, Integer> currentRanks();

        /**
         * The allocation state a resumed run needs to continue exactly as an uninterrupted one (e.g. AdaLoRA's
         * importance averages and rank pattern), saved with each training checkpoint. Keys are this schedule's
         * own; arrays are read during the call only. Default: no state.
         */
        default Map<String, NDArray> stateDict() {
            return Map.of();
        }

        /**
         * Restores what {@link #stateDict()} returned, when a run resumes from a checkpoint, before its first step.
         *
         * @throws IllegalArgumentException if the state does not fit this schedule (naming the key)
         */
        default void loadStateDict(Map<String, NDArray> state) {
        }
    }
}
