package io.peft4j.core.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.pytorch.jni.JniUtils;
import io.peft4j.core.model.CausalLM;
import io.peft4j.core.model.PlatformForwardContext;
import io.peft4j.core.train.data.Batch;
import io.peft4j.core.train.data.DataLoader;
import io.peft4j.core.model.loss.CausalLmLoss;

/**
 * One evaluation over a whole eval set: {@code loss = sum(nll over counted tokens) / counted tokens}, perplexity
 * {@code exp(loss)}, in eval mode (no dropout, no gradient collector, torch grad mode off for the pass and restored
 * after). Each batch runs in its own sub-manager and {@link NDScope}, so nothing of it outlives the batch.
 */
final class EvalPass {
    private EvalPass() {
    }

    static EvalResult run(CausalLM model, DataLoader eval) {
        boolean gradMode = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try {
            double sum = 0;
            long count = 0;
            for (int i = 0; i < eval.batchesPerEpoch(); i++) {
                Batch b = eval.batch(0, i);
                try (NDManager sm = model.manager().newSubManager(); NDScope ignored = new NDScope()) {
                    NDArray logits = model.forward(b.inputIds(sm), b.attentionMask(sm), null,
                            PlatformForwardContext.eval(sm));
                    sum += CausalLmLoss.nllSum(logits, b.labels(sm)).getFloat();
                    count += b.countedTokens();
                }
            }
            double loss = sum / Math.max(1, count);
            return new EvalResult(loss, Math.exp(loss), count);
        } finally {
            JniUtils.setGradMode(gradMode);
        }
    }
}
