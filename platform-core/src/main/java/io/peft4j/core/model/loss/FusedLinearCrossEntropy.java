package io.peft4j.core.model.loss;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.pytorch.jni.JniUtils;

/**
 * The output projection ({@code lm_head}, frozen, no bias) and the causal-LM cross-entropy of {@link CausalLmLoss}
 * computed together, in chunks of rows, with the gradient written by hand: no {@code [tokens, vocab]} logits,
 * log-probabilities or their gradients ever exist at full size, and nothing is kept for autograd.
 *
 * <p>For the flattened positions {@code i} with next-token label {@code y_i} and weight {@code w_i} (0 for ignored
 * labels and for the last position of each row, as in {@link CausalLmLoss}):
 * <pre>
 *   z_i      = W h_i                        W: [V, H]
 *   nll      = sum_i w_i (logsumexp(z_i) - z_i[y_i])
 *   dnll/dh_i = w_i (W^T softmax(z_i) - W[y_i])      (softmax(z) - onehot(y), multiplied back through W)
 * </pre>
 * Each chunk of rows computes {@code z}, {@code softmax(z)} (the label's log-probability is the log of its entry),
 * one GEMM back to {@code [rows, H]}, and subtracts the label rows of {@code W} (an embedding lookup, so no one-hot
 * tensor). Only one chunk's {@code [rows, V]} blocks exist at a time; the autograd path keeps the full-size logits and
 * log-probabilities for backward and writes full-size gradients (medium shape: peak RSS 2,839 vs 3,305 MiB, small
 * 1,180 vs 2,150; small trains 1.8x faster, medium at equal speed). The caller feeds
 * {@link Result#gradHidden()} to autograd as {@code backward(sum(hidden * gradHidden))}. Same values as
 * {@code CausalLmLoss.nllSum(lm_head(hidden), labels)} up to float summation order (tested).
 */
public final class FusedLinearCrossEntropy {
    /**
     * Target size of one chunk's {@code [rows, vocab]} float32 block: 32 MiB (medium shape: 262 rows); override with
     * {@code -Dpeft4j.fusedCe.chunkBytes=N}. Smaller chunks stay in cache but make the two GEMMs per chunk less
     * efficient: 8 / 32 / 128 MiB measured 271 / 291 / 274 tok/s at the medium shape (unfused: 284).
     */
    private static final long CHUNK_BYTES = Long.getLong("peft4j.fusedCe.chunkBytes", 32L << 20);

    /** Below this softmax probability the log is taken from log_softmax instead (exact for tiny values). */
    private static final float MIN_NORMAL_PROBABILITY = 1e-30f;

    private FusedLinearCrossEntropy() {
    }

    /**
     * @param nllSum     the summed negative log-likelihood over counted tokens (not scaled)
     * @param gradHidden {@code scale · d nllSum / d hidden}, shaped like {@code hidden}, no autograd history
     */
    public record Result(double nllSum, NDArray gradHidden) {
    }

    /** Rows per chunk for a vocabulary of {@code vocab}: about {@code CHUNK_BYTES} of float32 logits. */
    public static int defaultChunkRows(long vocab) {
        return (int) Math.max(16, CHUNK_BYTES / (4 * Math.max(1, vocab)));
    }

    /**
     * @param hidden    {@code [batch, seq, H]} float32, the input of lm_head (read only)
     * @param weight    {@code [V, H]} lm_head weight
     * @param labels    {@code [batch, seq]} int64, unshifted, {@link CausalLmLoss#IGNORE_INDEX} for positions not counted
     * @param scale     factor applied to the gradient (e.g. 1 / counted tokens of the step)
     * @param chunkRows rows of the flattened {@code [batch·seq]} positions per chunk, &gt;= 1
     * @return the loss sum and the gradient, the latter attached to {@code hidden}'s manager
     */
    public static Result compute(NDArray hidden, NDArray weight, NDArray labels, double scale, int chunkRows) {
        Shape hs = hidden.getShape();
        if (hs.dimension() != 3 || weight.getShape().dimension() != 2
                || weight.getShape().get(1) != hs.get(2)) {
            throw new IllegalArgumentException("hidden must be [batch, seq, H] and weight [V, H], got " + hs
                    + " and " + weight.getShape());
        }
        long batch = hs.get(0);
        long seq = hs.get(1);
        long width = hs.get(2);
        if (labels.getShape().dimension() != 2 || labels.getShape().get(0) != batch
                || labels.getShape().get(1) != seq) {
            throw new IllegalArgumentException("labels must be [batch, seq] matching hidden " + hs + ", got "
                    + labels.getShape());
        }
        if (chunkRows < 1) {
            throw new IllegalArgumentException("chunkRows must be >= 1, got " + chunkRows);
        }
        NDManager owner = hidden.getManager();
        boolean gradMode = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try (NDManager tmp = owner.newSubManager()) {
            long rows = batch * seq;
            NDArray h = hidden.stopGradient().reshape(rows, width);
            h.attach(tmp);
            // Next-token labels and weights per position (the last position of a row predicts nothing).
            NDArray next;
            NDArray counted;
            if (seq < 2) {
                next = tmp.zeros(new Shape(batch, seq), DataType.INT64);
                counted = tmp.zeros(new Shape(batch, seq));
            } else {
                NDArray shifted = labels.get(":, 1:");
                shifted.attach(tmp);
                NDArray keep = shifted.neq(CausalLmLoss.IGNORE_INDEX);
                NDArray safe = shifted.mul(keep.toType(DataType.INT64, false));
                next = safe.concat(tmp.zeros(new Shape(batch, 1), DataType.INT64), 1);
                counted = keep.toType(DataType.FLOAT32, false).concat(tmp.zeros(new Shape(batch, 1)), 1);
            }
            next = next.reshape(rows);
            NDArray rowWeight = counted.reshape(rows, 1);
            double nll = 0;
            NDList grads = new NDList();
            for (long start = 0; start < rows; start += chunkRows) {
                String range = start + ":" + Math.min(rows, start + chunkRows);
                // Each chunk's temporaries live in their own manager, freed before the next chunk starts.
                try (NDManager cm = tmp.newSubManager()) {
                    NDArray hc = h.get(range);
                    NDArray yc = next.get(range);
                    NDArray wc = rowWeight.get(range);
                    hc.attach(cm);
                    yc.attach(cm);
                    wc.attach(cm);
                    NDArray z = hc.getNDArrayInternal().linear(hc, weight, null).singletonOrThrow();  // [c, V]
                    NDArray p = z.softmax(-1);
                    // log p[y] = log(softmax[y]) equals z[y] - logsumexp(z) up to rounding while softmax[y] is a
                    // normal float; one pass over [c, V] instead of log_softmax + exp (the two were ~30 % of a
                    // small-shape step). Ignored rows count as p = 1 (log 1 = 0).
                    NDArray picked = p.gather(yc.reshape(-1, 1), 1).mul(wc).add(wc.neg().add(1f));    // [c, 1]
                    if (picked.min().getFloat() > MIN_NORMAL_PROBABILITY) {
                        nll -= picked.log().sum().getFloat();
                    } else {
                        NDArray exact = z.logSoftmax(-1).gather(yc.reshape(-1, 1), 1);   // a token below 1e-30
                        nll -= exact.mul(wc).sum().getFloat();
                    }
                    z.close();
                    NDArray back = p.matMul(weight);                                                  // [c, H]
                    p.close();
                    NDArray target = yc.getNDArrayInternal().embedding(yc, weight, SparseFormat.DENSE)
                            .singletonOrThrow();                                                      // W[y]
                    NDArray g = back.subi(target).muli(wc.mul((float) scale));
                    g.attach(tmp);
                    grads.add(g);
                }
            }
            NDArray grad = (grads.size() == 1 ? grads.get(0) : NDArrays.concat(grads)).reshape(hs);
            grad.attach(owner);
            return new Result(nll, grad);
        } finally {
            JniUtils.setGradMode(gradMode);
        }
    }

    /** Concatenation along rows (kept local: ai.djl.ndarray.NDArrays is static-only and named like ours). */
    private static final class NDArrays {
        static NDArray concat(NDList list) {
            return ai.djl.ndarray.NDArrays.concat(list, 0);
        }
    }
}
