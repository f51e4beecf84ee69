package io.peft4j.api;

/**
 * The architecture numbers of the base model that methods need for validation and for shaping
 * model-level parameters (prefix tuning, prompt tuning).
 */
public record ModelShape(int hiddenSize, int numLayers, int numAttentionHeads, int numKeyValueHeads, int headDim,
                         int vocabSize, int maxPositionEmbeddings) {
}
