package io.peft4j.core.model;


import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import io.peft4j.api.ForwardContext;
import io.peft4j.api.ModelShape;
import io.peft4j.core.model.loss.CausalLmLoss;

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
     * Forward, causal-LM cross-entropy ({@link CausalLmLoss}) times {@code lossScale}, and backward of one training
     * micro-batch; gradients accumulate into the open collector. This default goes through {@link #forward} and
     * autograd; a model may fuse the loss or checkpoint activations.
     *
     * @param labels        {@code [batch, seq]} int64, unshifted
     * @param checkpointing recompute activations in the backward pass instead of keeping them
     * @return the value of the scaled loss
     * @throws UnsupportedOperationException if checkpointing is asked for and this model cannot do it
     */
    default float causalLmBackward(NDArray inputIds, NDArray attentionMask, NDArray labels, double lossScale,
                                   ForwardContext ctx, GradientCollector collector, boolean checkpointing) {
        if (checkpointing) {
            throw new UnsupportedOperationException(getClass().getSimpleName() + " has no activation checkpointing");
        }
        return CausalLmLoss.backward(forward(inputIds, attentionMask, null, ctx), labels, lossScale, collector);
    }

    ModelShape shape();

    /** The manager that owns the model's weights. */
    NDManager manager();
}
