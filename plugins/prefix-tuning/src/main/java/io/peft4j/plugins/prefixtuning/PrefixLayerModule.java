package io.peft4j.plugins.prefixtuning;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import io.peft4j.api.AttentionKvSiteModule;
import io.peft4j.api.ForwardContext;
import io.peft4j.api.SiteInfo;

/**
 * Layer {@code l}'s share of a prefix-tuning adapter: the keys and values the model prepends to that layer's
 * attention keys and values (after RoPE: the prefix keys are used as learned, never rotated, as with PEFT's
 * {@code past_key_values}; before the grouped-query expansion, so one prefix per key/value head).
 */
final class PrefixLayerModule implements AttentionKvSiteModule {
    private final SiteInfo site;
    private final PrefixEncoder encoder;
    private final boolean firstLayer;

    PrefixLayerModule(SiteInfo site, PrefixEncoder encoder, boolean firstLayer) {
        this.site = site;
        this.encoder = encoder;
        this.firstLayer = firstLayer;
    }

    @Override
    public SiteInfo site() {
        return site;
    }

    @Override
    public int numVirtualTokens() {
        return encoder.numVirtualTokens();
    }

    @Override
    public NDList prefixKeyValues(int batch, ForwardContext ctx) {
        NDArray table = encoder.table(ctx, firstLayer);
        NDArray[] kv = encoder.layerKeyValues(table, site.layerIndex(), batch);
        return new NDList(kv[0], kv[1]);
    }
}
