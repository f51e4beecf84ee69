package io.peft4j.core.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.training.GradientCollector;
import io.peft4j.api.ForwardContext;
import io.peft4j.core.model.CausalLM;
import io.peft4j.core.model.PlatformForwardContext;
import io.peft4j.core.train.data.Batch;
import io.peft4j.core.util.Scalars;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * Forward and backward of one micro-batch in training mode; the gradients add up in the trainable parameters'
 * gradients. Used by the {@link Trainer} for each micro-batch of a step, and by data-parallel workers (the spark
 * module) for their share of a step: the loss scale and the dropout seed depend only on the step, the micro-batch's
 * index in the step and the step's token count, so a micro-batch gives the same gradient whichever process runs it.
 */
public final class MicroBatchBackward {
    private final CausalLM model;
    private final List<Function<ForwardContext, Optional<NDArray>>> auxLosses;
    private final boolean gradientCheckpointing;
    private final long seed;

    /**
     * @param auxLosses             extra loss terms (e.g. AdaLoRA's orthogonal regulariser), each divided by the
     *                              number of micro-batches of the step
     * @param gradientCheckpointing see {@link TrainingConfig#gradientCheckpointing()}
     * @param seed                  the run seed ({@link TrainingConfig#seed()})
     */
    public MicroBatchBackward(CausalLM model, List<Function<ForwardContext, Optional<NDArray>>> auxLosses,
                              boolean gradientCheckpointing, long seed) {
        this.model = model;
        this.auxLosses = List.copyOf(auxLosses);
        this.gradientCheckpointing = gradientCheckpointing;
        this.seed = seed;
    }

    /**
     * Seeds the engine's generator from {@code (seed, step, index)}, then forward and backward of {@code b} inside a
     * scope, a per-pass sub-manager and a gradient collector:
     * {@code loss = nll_sum(b) / countedInStep + sum(aux) / microBatches}.
     *
     * @param step          the optimizer step (1-based)
     * @param index         the micro-batch's position in the step (0-based)
     * @param countedInStep counted tokens of all micro-batches of the step
     * @param microBatches  micro-batches in the step
     * @return this micro-batch's share of the step loss
     */
    public double run(int step, int index, Batch b, long countedInStep, int microBatches) {
        Engine.getInstance().setRandomSeed(seed(seed, step, index));
        try (NDManager sm = model.manager().newSubManager();
             NDScope ignored = new NDScope();
             GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            PlatformForwardContext ctx = new PlatformForwardContext(true, sm);
            double value = model.causalLmBackward(b.inputIds(sm), b.attentionMask(sm), b.labels(sm),
                    1.0 / Math.max(1, countedInStep), ctx, gc, gradientCheckpointing);
            NDArray loss = null;
            for (Function<ForwardContext, Optional<NDArray>> aux : auxLosses) {
                Optional<NDArray> term = aux.apply(ctx);
                if (term.isPresent()) {
                    NDArray t = term.get().div(Scalars.of(term.get(), microBatches));
                    loss = loss == null ? t : loss.add(t);
                }
            }
            if (loss != null) {
                gc.backward(loss);   // the auxiliary terms: their own backward, gradients accumulate
                value += loss.getFloat();
            }
            return value;
        }
    }

    /**
     * The engine seed of micro-batch {@code index} of step {@code step}: a fixed mix of the run seed, the step and the
     * index (micro-batch 0 gets the step's seed).
     */
    public static int seed(long seed, int step, int index) {
        long z = (seed + index * 0xD1B54A32D192ED03L) * 0x9E3779B97F4A7C15L + step;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return (int) ((z ^ (z >>> 31)) & 0x7fffffff);
    }
}
