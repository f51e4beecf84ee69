package io.peft4j.api;

/**
 * The part of an adapter that lives at one {@link SiteInfo site}. Sub-interfaces say how it changes the model
 * there: {@link LinearSiteModule}, {@link SublayerSiteModule}, {@link AttentionKvSiteModule},
 * {@link EmbeddingSiteModule}.
 *
 * <p>Lifetime of what a module computes: every array created while the host runs one decoder layer (including the
 * module's own temporaries) is closed when that layer returns; under autograd torch still keeps what the backward
 * pass needs. A module that caches a per-pass value across layers must therefore check
 * {@link ai.djl.ndarray.NDArray#isReleased()} and recompute it (prefix tuning does this for its projected table).
 * With activation checkpointing a layer runs twice per step (once without autograd), each time with a fresh
 * {@link ForwardContext}.
 */
public interface SiteModule {
    /** The site this module is attached to. */
    SiteInfo site();
}
