package io.peft4j.api;

import java.util.Objects;

/**
 * Static description of one attachment site of the base model, known before any tensor is created.
 *
 * @param path         module path exactly as in Hugging Face transformers, e.g. {@code model.layers.0.self_attn.q_proj}
 * @param kind         what kind of site it is
 * @param inFeatures   input width (LINEAR: {@code in}; SUBLAYER_OUTPUT / INPUT_EMBEDDING: hidden size;
 *                     ATTENTION_KV: hidden size)
 * @param outFeatures  output width (LINEAR: {@code out}; SUBLAYER_OUTPUT / INPUT_EMBEDDING: hidden size;
 *                     ATTENTION_KV: {@code numKeyValueHeads * headDim})
 * @param layerIndex   index of the decoder layer the site belongs to, or -1 for model-level sites
 * @param hasBias      whether the base linear layer has a bias (LINEAR only)
 */
public record SiteInfo(String path, SiteKind kind, int inFeatures, int outFeatures, int layerIndex, boolean hasBias) {
    public SiteInfo {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(kind, "kind");
        if (inFeatures <= 0 || outFeatures <= 0) {
            throw new IllegalArgumentException("site " + path + ": feature sizes must be positive, got in="
                    + inFeatures + " out=" + outFeatures);
        }
    }

    /** The last dotted component of the path, e.g. {@code q_proj}. */
    public String shortName() {
        int dot = path.lastIndexOf('.');
        return dot < 0 ? path : path.substring(dot + 1);
    }
}
