package io.peft4j.plugins.prompttuning;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.EmbeddingSiteModule;
import io.peft4j.api.ForwardContext;
import io.peft4j.api.SiteInfo;

/**
 * Prompt tuning (Lester et al. 2021) as Hugging Face PEFT's {@code PromptEmbedding}: a trainable table
 * {@code E [P, hidden]} prepended to every sequence's input embeddings,
 * {@code x' = concat(E, x) : [batch, P + seq, hidden]}. The model extends the attention mask by P visible positions
 * and drops the virtual positions' logits, as PEFT does for causal language models.
 */
public final class PromptEmbeddingModule implements EmbeddingSiteModule {
    private final SiteInfo site;
    private final NDArray embedding;

    PromptEmbeddingModule(SiteInfo site, NDArray embedding) {
        this.site = site;
        this.embedding = embedding;
    }

    @Override
    public SiteInfo site() {
        return site;
    }

    @Override
    public int numVirtualTokens() {
        return (int) embedding.getShape().get(0);
    }

    NDArray embedding() {
        return embedding;
    }

    @Override
    public NDArray prepend(NDArray inputEmbeds, ForwardContext ctx) {
        long batch = inputEmbeds.getShape().get(0);
        long hidden = embedding.getShape().get(1);
        NDArray prompt = embedding.expandDims(0).broadcast(new Shape(batch, numVirtualTokens(), hidden));
        return prompt.concat(inputEmbeds, 1);
    }
}
