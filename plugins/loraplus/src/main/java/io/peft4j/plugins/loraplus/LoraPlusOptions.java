package io.peft4j.plugins.loraplus;

import com.fasterxml.jackson.annotation.JsonProperty;
import io.peft4j.api.ConfigException;
import io.peft4j.api.ExtensionOptions;

/**
 * Options of the {@code loraplus} policy ({@code optimizer: {policy: {id: loraplus, ...}}}), PEFT's
 * {@code create_loraplus_optimizer} arguments.
 *
 * @param lrRatio     {@code η_B / η_A}, {@code > 0}. PEFT has no default (it is a required argument there); here it
 *                    defaults to <b>16</b> (2^4, the value PEFT's docs and the paper use)
 * @param lrEmbedding learning rate of embedding LoRA factors, {@code >= 0}, default {@code 1e-6} (PEFT)
 * @param weightDecay {@code >= 0}, default {@code 0.0} as in PEFT: the run's {@code optimizer.weight_decay} is
 *                    <i>not</i> inherited, so give this option to use decay with LoRA+
 */
public record LoraPlusOptions(@JsonProperty("loraplus_lr_ratio") Double lrRatio,
                              @JsonProperty("loraplus_lr_embedding") Double lrEmbedding,
                              @JsonProperty("loraplus_weight_decay") Double weightDecay) implements ExtensionOptions {
    public static final double DEFAULT_RATIO = 16.0;
    public static final double DEFAULT_LR_EMBEDDING = 1e-6;
    public static final double DEFAULT_WEIGHT_DECAY = 0.0;

    public LoraPlusOptions {
        lrRatio = lrRatio == null ? DEFAULT_RATIO : lrRatio;
        lrEmbedding = lrEmbedding == null ? DEFAULT_LR_EMBEDDING : lrEmbedding;
        weightDecay = weightDecay == null ? DEFAULT_WEIGHT_DECAY : weightDecay;
    }

    public static LoraPlusOptions defaults() {
        return new LoraPlusOptions(null, null, null);
    }

    @Override
    public void validate() {
        if (!(lrRatio > 0)) {
            throw new ConfigException("loraplus_lr_ratio", "must be > 0 (the ratio of B's to A's learning rate, "
                    + "e.g. 16), got " + lrRatio);
        }
        if (!(lrEmbedding >= 0)) {
            throw new ConfigException("loraplus_lr_embedding", "must be >= 0, got " + lrEmbedding);
        }
        if (!(weightDecay >= 0)) {
            throw new ConfigException("loraplus_weight_decay", "must be >= 0, got " + weightDecay);
        }
    }
}
