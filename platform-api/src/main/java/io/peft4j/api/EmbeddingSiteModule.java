package io.peft4j.api;

import ai.djl.ndarray.NDArray;

/** Trainable virtual tokens prepended to the input embeddings (prompt tuning). */
public interface EmbeddingSiteModule extends SiteModule {

    /** Number of virtual tokens P. */
    int numVirtualTokens();

    /** Returns {@code [batch, P + seq, hidden]} from input embeddings {@code [batch, seq, hidden]}. */
    NDArray prepend(NDArray inputEmbeds, ForwardContext ctx);
}
