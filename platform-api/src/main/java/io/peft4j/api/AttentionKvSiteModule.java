package io.peft4j.api;

import ai.djl.ndarray.NDList;

/**
 * Trainable key/value prefixes for one attention layer (prefix tuning). The platform prepends them to the
 * layer's keys and values (after RoPE, before grouped-query expansion) and extends the attention mask.
 */
public interface AttentionKvSiteModule extends SiteModule {

    /** Number of virtual tokens P. */
    int numVirtualTokens();

    /** Keys and values, each {@code [batch, numKeyValueHeads, P, headDim]}. */
    NDList prefixKeyValues(int batch, ForwardContext ctx);
}
