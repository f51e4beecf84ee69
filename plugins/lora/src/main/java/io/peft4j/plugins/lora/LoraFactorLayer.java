package io.peft4j.plugins.lora;

import ai.djl.ndarray.NDArray;
import io.peft4j.api.LowRankSite;
import io.peft4j.api.SiteInfo;

/**
 * What every LoRA-family linear layer holds: the site, the configured rank {@code r}, the scaling {@code s}, the
 * branch dropout and the factors {@code A [r, in]}, {@code B [out, r]} of {@code ΔW = s·B A}. Subclasses add the
 * forward and merge math ({@link LoraLayer}, DoRA's layer). Public because the dora plugin extends it through its
 * PF4J plugin dependency on lora.
 */
public abstract class LoraFactorLayer implements LowRankSite {
    protected final SiteInfo site;
    protected final int rank;
    protected final float scaling;
    protected final float dropout;
    protected final NDArray loraA;      // [r, in]
    protected final NDArray loraB;      // [out, r]

    protected LoraFactorLayer(SiteInfo site, int rank, float scaling, float dropout, NDArray loraA, NDArray loraB) {
        this.site = site;
        this.rank = rank;
        this.scaling = scaling;
        this.dropout = dropout;
        this.loraA = loraA;
        this.loraB = loraB;
    }

    @Override
    public final NDArray loraA() {
        return loraA;
    }

    @Override
    public final NDArray loraB() {
        return loraB;
    }

    @Override
    public final int rank() {
        return rank;
    }

    @Override
    public final float scaling() {
        return scaling;
    }

    /** Replaces both factors in place, so parameter references and gradients stay valid; nothing else changes. */
    @Override
    public final void setFactors(NDArray a, NDArray b) {
        LoraFactors.copyInto(loraA, a, site.path() + ".lora_A");
        LoraFactors.copyInto(loraB, b, site.path() + ".lora_B");
    }

    @Override
    public final SiteInfo site() {
        return site;
    }
}
