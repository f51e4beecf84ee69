package io.peft4j.api;

import ai.djl.ndarray.NDArray;
import java.util.Optional;

/**
 * An adapter on a linear layer (LoRA family). Several may be active on one layer; the platform calls them in
 * the order of the active-adapter list, each receiving the output so far, exactly as Hugging Face PEFT does.
 */
public interface LinearSiteModule extends SiteModule {

    /**
     * @param x      the layer input {@code [..., in]}
     * @param result the output so far: {@code base(x)} plus the contributions of adapters applied before this one
     * @param base   the frozen base layer
     * @param ctx    training flag, dropout, temporaries
     * @return the new output {@code [..., out]}, normally {@code result + delta(x)}
     */
    NDArray forward(NDArray x, NDArray result, LinearBase base, ForwardContext ctx);

    /**
     * The weight update {@code ΔW [out, in]} such that the base layer with {@code W + ΔW} computes the same as the
     * base plus this adapter, given the current base weight. For non-additive methods it is the effective
     * difference (DoRA: {@code (m/n)(W + s·BA) - W}); empty when the update has no weight form.
     */
    Optional<NDArray> deltaWeight(LinearBase base);

    /** Folds this adapter into the base layer; afterwards {@link #forward} must not be called until unmerged. */
    void merge(LinearBase base);

    /** Reverses {@link #merge} (exactly, up to float rounding, for a full-precision base). */
    void unmerge(LinearBase base);
}
