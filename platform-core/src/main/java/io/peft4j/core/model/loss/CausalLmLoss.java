package io.peft4j.core.model.loss;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import io.peft4j.core.util.Scalars;

/**
 * Causal language-model cross-entropy with Hugging Face's shift: the logits at position {@code t} predict the label
 * at {@code t + 1}, i.e. {@code logits[:, :-1]} against {@code labels[:, 1:]}. Labels equal to
 * {@link #IGNORE_INDEX} are not counted.
 *
 * <pre>
 *   nll_sum = - sum_{b, t < T-1, labels[b,t+1] != -100} log_softmax(logits[b,t])[labels[b,t+1]]
 *   mean    = nll_sum / count                       (torch F.cross_entropy(..., ignore_index=-100))
 * </pre>
 * Computed with {@code logSoftmax} over all positions of the (unsliced) logits and {@code gather}, in float32; the
 * last position gets weight 0.
 */
public final class CausalLmLoss {
    /** Label of a position that is not counted in the loss (PyTorch's {@code ignore_index}). */
    public static final long IGNORE_INDEX = -100;

    private CausalLmLoss() {
    }

    /**
     * The summed negative log-likelihood over counted tokens, a scalar float32 attached to the logits' manager.
     *
     * @param logits {@code [batch, seq, vocab]}
     * @param labels {@code [batch, seq]} int64, unshifted
     */
    public static NDArray nllSum(NDArray logits, NDArray labels) {
        long seq = logits.getShape().get(1);
        if (labels.getShape().dimension() != 2 || labels.getShape().get(0) != logits.getShape().get(0)
                || labels.getShape().get(1) != seq) {
            throw new IllegalArgumentException("labels must be [batch, seq] matching logits " + logits.getShape()
                    + ", got " + labels.getShape());
        }
        if (seq < 2) {
            NDArray sum = logits.sum();
            return sum.mul(Scalars.of(sum, 0)); // nothing to predict; keeps the graph connected
        }
        // The logits are not sliced to [:, :-1]: a slice is non-contiguous, so logSoftmax would first copy it, and
        // its backward would allocate and fill a zero tensor of the full logits' size (together about 30% of a
        // stories15M-shape LoRA step on CPU). Instead the labels are shifted and padded with one ignored position,
        // whose weight 0 removes it from the sum and from the gradient.
        long batch = logits.getShape().get(0);
        NDArray shiftLabels = labels.get(":, 1:");
        NDArray counted = shiftLabels.neq(IGNORE_INDEX);
        // -100 would be an invalid gather index: zero it where the label is ignored (masked out below anyway)
        NDArray safe = shiftLabels.mul(counted.toType(DataType.INT64, false));
        NDManager m = logits.getManager();
        NDArray next = safe.concat(m.zeros(new Shape(batch, 1), DataType.INT64), 1);
        NDArray weight = counted.toType(DataType.FLOAT32, false).concat(m.zeros(new Shape(batch, 1)), 1);
        NDArray logp = logits.toType(DataType.FLOAT32, false).logSoftmax(-1)
                .gather(next.expandDims(-1), -1).squeeze(-1);
        return logp.mul(weight).sum().neg();
    }

    /**
     * {@code backward(scale · nllSum(logits, labels))} into the open collector; returns that scaled loss.
     */
    public static float backward(NDArray logits, NDArray labels, double scale, GradientCollector collector) {
        NDArray nll = nllSum(logits, labels);
        NDArray loss = nll.mul(Scalars.of(nll, scale));
        float value = loss.getFloat();
        collector.backward(loss);
        return value;
    }

    /** The mean over counted tokens (0 with no counted token, as a connected scalar). */
    public static NDArray mean(NDArray logits, NDArray labels) {
        long count = countedTokens(labels);
        NDArray nll = nllSum(logits, labels);
        return nll.div(Scalars.of(nll, Math.max(1, count)));
    }

    /** Labels at positions 1.. that are not ignored. */
    public static long countedTokens(NDArray labels) {
        if (labels.getShape().get(1) < 2) {
            return 0;
        }
        try (NDArray shifted = labels.get(":, 1:"); NDArray c = shifted.neq(IGNORE_INDEX);
             NDArray n = c.toType(DataType.INT64, false).sum()) {
            return n.getLong();
        }
    }
}
