package io.peft4j.core.model;

import ai.djl.training.GradientCollector;
import java.util.function.Function;

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

    /**
     * Forward, loss and backward of one training micro-batch with activation checkpointing (recompute each layer's
     * activations in the backward pass instead of keeping them). Gradients accumulate into the open collector.
     *
     * @return the value of the loss
     * @throws UnsupportedOperationException if this model cannot checkpoint its activations
     */
    default float checkpointedBackward(NDArray inputIds, NDArray attentionMask, ForwardContext ctx,
                                       Function<NDArray, NDArray> lossOfLogits, GradientCollector collector) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " has no activation checkpointing");
    }

    ModelShape shape();

    /** The manager that owns the model's weights. */
    NDManager manager();
}
