package io.peft4j.api;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.Map;
import org.pf4j.ExtensionPoint;

/**
 * Initialises a low-rank adapter from its base weight, selected by the adapter's {@code init_lora_weights}
 * value (PEFT's field) or by {@code initializer:} in a composition config. It may rewrite the base weight:
 * PiSSA and MiLoRA put {@code s·B A} = a rank-r part of {@code W} into the adapter and leave the residual
 * {@code W - s·B A} in the base, so the model's output is unchanged at initialisation.
 */
public interface Initializer extends ExtensionPoint {

    /** The id, e.g. {@code pissa}. */
    String id();

    /** One line for {@code peft4j plugins}. */
    String description();

    /**
     * Whether {@link #initialize} rewrites the base weight (PiSSA, MiLoRA: {@code W - s·B A} stays in the base). The
     * platform then offers PEFT's conversion of the trained adapter into a plain LoRA for the ORIGINAL base weights
     * ({@code output.convert_to_lora}), which needs the initial factors. Default: false (the base is untouched).
     */
    default boolean rewritesBase() {
        return false;
    }

    /** Whether this initializer handles an {@code init_lora_weights} value such as {@code pissa_niter_4}. */
    boolean handles(String initName);

    /**
     * Checks, before tensors exist, that the initializer can run on a site (e.g. {@code pissa_niter_N} needs
     * {@code r <= min(in, out)}). Throw {@link ConfigException} naming the module and shapes.
     */
    default void validate(String initName, SiteInfo site, int rank) {
    }

    /**
     * How many rank-1 components (rows of {@code lora_A}, columns of {@code lora_B}) this initializer gives a site of
     * rank {@code rank}; the method creates its factors with that many. Default {@code rank}. SVD initializers
     * return {@code min(rank, min(in, out))}: PEFT's PiSSA and LoftQ slice the decomposition there, so with
     * {@code r > min(in, out)} the factors are {@code [min(in, out), in]} / {@code [out, min(in, out)]} while
     * {@code r} and the scaling {@code alpha / r} stay as configured.
     */
    default int factorRank(String initName, SiteInfo site, int rank) {
        return rank;
    }

    /** Sets {@code site}'s factors and (optionally) rewrites {@code base}'s weight. */
    void initialize(String initName, LowRankSite site, LinearBase base, AdapterContext ctx);

    /**
     * An adapter converted for the original base weights: its configuration and its tensors under PEFT's saved
     * key names ({@link AdapterInstance#stateDict()}).
     */
    record OriginalBaseAdapter(AdapterConfig config, Map<String, NDArray> stateDict) {
    }

    /**
     * For an initializer that {@link #rewritesBase rewrites the base}: converts the trained adapter into one for the
     * ORIGINAL base weight, given the factors {@code (A0, B0)} this initializer produced (PEFT's
     * {@code save_pretrained(path_initial_model_for_weight_conversion=...)}). The platform captures the initial
     * factors and writes the result; the math and the config changes are the initializer's. Errors are
     * {@link ConfigException}s naming the adapter's field (the platform reports them under its run option).
     *
     * @param trained the trained adapter (modules are {@link LowRankSite}s, config a {@link LowRankConfig})
     * @param initial the initial factors per module path
     * @param manager owns the new tensors; the caller closes it after writing
     */
    default OriginalBaseAdapter convertForOriginalBase(AdapterInstance trained, Map<String, LowRankUpdate> initial,
                                                       NDManager manager) {
        throw new UnsupportedOperationException("initializer " + id() + " does not rewrite the base weight; "
                + "its adapters need no conversion");
    }
}
