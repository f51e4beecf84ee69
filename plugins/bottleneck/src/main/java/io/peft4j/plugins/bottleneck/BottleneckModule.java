package io.peft4j.plugins.bottleneck;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;
import ai.djl.ndarray.index.NDIndex;
import io.peft4j.api.ForwardContext;
import io.peft4j.api.SiteInfo;
import io.peft4j.api.SublayerSiteModule;

/**
 * A bottleneck adapter (Houlsby et al. 2019; Pfeiffer et al. 2021) on the output {@code f} of one sub-layer, before
 * the decoder layer's residual add:
 * <pre>
 *   f' = f + s · ( W_up · act( W_down · drop(f) + b_down ) + b_up )
 *   W_down [m, h], b_down [m], W_up [h, m], b_up [h]; m = bottleneck width, act = relu | gelu | silu
 * </pre>
 * {@code W_up} and {@code b_up} start at zero, so a fresh adapter is exactly the identity ({@code f' = f});
 * {@code W_down}, {@code b_down} start as torch's {@code nn.Linear} default, {@code U(-1/sqrt(h), 1/sqrt(h))}.
 * The function is non-linear in the input, so it has no weight form and cannot be merged.
 */
public final class BottleneckModule implements SublayerSiteModule {
    private final SiteInfo site;
    private final String nonLinearity;
    private final float dropout;
    private final float scaling;
    private final NDArray downWeight;
    private final NDArray downBias;
    private final NDArray upWeight;
    private final NDArray upBias;

    BottleneckModule(SiteInfo site, String nonLinearity, float dropout, float scaling, NDArray downWeight,
                     NDArray downBias, NDArray upWeight, NDArray upBias) {
        this.site = site;
        this.nonLinearity = nonLinearity;
        this.dropout = dropout;
        this.scaling = scaling;
        this.downWeight = downWeight;
        this.downBias = downBias;
        this.upWeight = upWeight;
        this.upBias = upBias;
    }

    @Override
    public SiteInfo site() {
        return site;
    }

    @Override
    public NDArray forward(NDArray sublayerOutput, NDArray sublayerInput, ForwardContext ctx) {
        NDArray x = ctx.dropout(sublayerOutput, dropout);
        NDArray down = ctx.linearAlgebra().linear(x, downWeight, downBias);
        NDArray act = activate(down);
        NDArray up = ctx.linearAlgebra().linear(act, upWeight, upBias);
        return sublayerOutput.add(scaling == 1f ? up : up.mul(ctx.scalar(scaling)));
    }

    private NDArray activate(NDArray x) {
        return switch (nonLinearity) {
            case "relu" -> Activation.relu(x);
            case "gelu" -> Activation.gelu(x);
            case "silu" -> x.mul(Activation.sigmoid(x));
            default -> throw new IllegalStateException("unknown non_linearity " + nonLinearity);
        };
    }

    NDArray downWeight() {
        return downWeight;
    }

    NDArray downBias() {
        return downBias;
    }

    NDArray upWeight() {
        return upWeight;
    }

    NDArray upBias() {
        return upBias;
    }

    /** Bottleneck width m. */
    int width() {
        return (int) downWeight.getShape().get(0);
    }

    static void copyInto(NDArray dst, NDArray src) {
        dst.set(new NDIndex("..."), src.toType(dst.getDataType(), false));
    }
}
