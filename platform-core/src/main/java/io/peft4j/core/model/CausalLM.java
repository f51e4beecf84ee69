package io.peft4j.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.peft4j.api.ForwardContext;
import io.peft4j.api.ModelShape;

/** A decoder-only language model as the trainer and generator see it. */
public interface CausalLM {

    /**
     * @param inputIds      {@code [batch, seq]} int64 token ids
     * @param attentionMask {@code [batch, pastLen + seq]} with 1 for real tokens and 0 for padding, or null when
     *                      every position is real (causal masking is always applied)
     * @param cache         key/value cache to read past positions from and append to, or null for a full pass
     * @param ctx           training flag, dropout, temporaries
     * @return logits {@code [batch, seq, vocab]} float32
     */
    NDArray forward(NDArray inputIds, NDArray attentionMask, KvCache cache, ForwardContext ctx);

    ModelShape shape();

    /** The manager that owns the model's weights. */
    NDManager manager();
}
