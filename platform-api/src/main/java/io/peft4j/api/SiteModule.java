package io.peft4j.api;

/**
 * The part of an adapter that lives at one {@link SiteInfo site}. Sub-interfaces say how it changes the model
 * there: {@link LinearSiteModule}, {@link SublayerSiteModule}, {@link AttentionKvSiteModule},
 * {@link EmbeddingSiteModule}.
 */
public interface SiteModule {
    /** The site this module is attached to. */
    SiteInfo site();
}
