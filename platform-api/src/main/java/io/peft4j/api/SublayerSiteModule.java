package io.peft4j.api;

import ai.djl.ndarray.NDArray;

/** An adapter on the output of a whole sub-layer (attention or MLP) before the residual add: bottleneck adapters. */
public interface SublayerSiteModule extends SiteModule {

    /**
     * @param sublayerOutput the sub-layer's output {@code [batch, seq, hidden]}
     * @param sublayerInput  the (normalised) input the sub-layer received, for parallel placement
     * @return the replacement output
     */
    NDArray forward(NDArray sublayerOutput, NDArray sublayerInput, ForwardContext ctx);
}
