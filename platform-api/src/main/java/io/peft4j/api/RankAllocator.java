package io.peft4j.api;

import ai.djl.ndarray.NDArray;

import java.util.Map;
import org.pf4j.ExtensionPoint;

/**
 * Decides the rank of each adapted module, statically (before creation) or during training (AdaLoRA's budget
 * schedule). Selected by {@code rank_allocator:} in the configuration.
 */
public interface RankAllocator extends ExtensionPoint {

    /** The id, e.g. {@code adalora}. */
    String id();

    /** One line for {@code peft4j plugins}. */
    String description();

    /** Whether this allocator can drive adapters of the given method id. */
    boolean supports(String method);

    /**
     * Starts allocation for one adapter.
     *
     * @param options    allocator options from the configuration (validated here; throw {@link ConfigException})
     * @param totalSteps the number of optimizer steps the run will make
     */
    Schedule start(AdapterInstance adapter, Map<String, Object> options, int totalSteps);

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
