package io.peft4j.core.bench;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import io.peft4j.api.ParamGroup;
import io.peft4j.core.model.PlatformForwardContext;
import io.peft4j.core.train.loss.CausalLmLoss;
import io.peft4j.core.train.optim.AdamW;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * The timed loops. Forward: logits only, torch grad mode off, in an {@link NDScope} per pass (the scope's closing
 * is not timed, as the peer's tensor frees fall outside its timer). Train step, timed in three phases:
 * <ol>
 *   <li>{@code fwd_loss}: forward in training mode plus the shifted causal-LM cross-entropy (mean over
 *       {@code B·(T-1)} tokens) inside a {@link GradientCollector};</li>
 *   <li>{@code bwd}: {@code backward}, reading the loss, and closing the pass's temporaries (the scope);</li>
 *   <li>{@code opt}: {@link AdamW#step} and {@link AdamW#zeroGrad} (outside the collector: in-place updates).</li>
 * </ol>
 * With activation checkpointing forward and backward interleave, so {@code fwd_loss} is 0 and {@code bwd} holds
 * both.
 */
final class StepLoops {
    private final BenchSubject s;
    private final AdamW optimizer;
    private final long countedTokens;
    private final boolean checkpointing;

    StepLoops(BenchSubject s, double lr, boolean checkpointing) {
        this.s = s;
        this.checkpointing = checkpointing;
        this.optimizer = new AdamW(List.of(new ParamGroup("bench", lr, 0.0, s.trainable)), 0.9, 0.999, 1e-8,
                s.model.manager());
        this.countedTokens = (long) s.batch * (s.seq - 1);
    }

    /** Seconds per timed forward pass (after {@code warmup} untimed ones). */
    List<Double> forward(int warmup, int steps) {
        List<Double> times = new ArrayList<>();
        boolean gradMode = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try {
            for (int i = 0; i < warmup + steps; i++) {
                NDArray ids = s.batches.get(i % s.batches.size());
                try (NDManager sm = s.model.manager().newSubManager(); NDScope ignored = new NDScope()) {
                    long t0 = System.nanoTime();
                    s.model.forward(ids, null, null, PlatformForwardContext.eval(sm));
                    long t1 = System.nanoTime();
                    if (i >= warmup) {
                        times.add((t1 - t0) / 1e9);
                    }
                }
            }
        } finally {
            JniUtils.setGradMode(gradMode);
        }
        return times;
    }

    /** The logits of one batch (no grad), copied into {@code target}'s lifetime: the caller closes them. */
    NDArray logits(int batchIndex, NDManager target) {
        boolean gradMode = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try (NDManager sm = s.model.manager().newSubManager(); NDScope ignored = new NDScope()) {
            NDArray out = s.model.forward(s.batches.get(batchIndex), null, null, PlatformForwardContext.eval(sm));
            NDScope.unregister(out);
            out.attach(target);
            return out;
        } finally {
            JniUtils.setGradMode(gradMode);
        }
    }

    /** Phase times (seconds) and loss of one train step. */
    record Step(double fwdLoss, double bwd, double opt, double loss) {
        double total() {
            return fwdLoss + bwd + opt;
        }
    }

    /** One train step on batch {@code i mod BATCHES}. */
    Step trainStep(int i) {
        NDArray ids = s.batches.get(i % s.batches.size());
        long t0 = System.nanoTime();
        long t1;
        float loss;
        try (NDManager sm = s.model.manager().newSubManager();
             NDScope ignored = new NDScope();
             GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            if (checkpointing) {
                t1 = t0;
                loss = s.model.checkpointedBackward(ids, null, new PlatformForwardContext(true, sm),
                        logits -> CausalLmLoss.nllSum(logits, ids).div((float) countedTokens), gc);
            } else {
                NDArray logits = s.model.forward(ids, null, null, new PlatformForwardContext(true, sm));
                NDArray l = CausalLmLoss.nllSum(logits, ids).div((float) countedTokens);
                t1 = System.nanoTime();
                gc.backward(l);
                loss = l.getFloat();
            }
        }
        long t2 = System.nanoTime();
        optimizer.step(1.0);
        optimizer.zeroGrad();
        long t3 = System.nanoTime();
        return new Step((t1 - t0) / 1e9, (t2 - t1) / 1e9, (t3 - t2) / 1e9, loss);
    }

    /** {@code warmup + steps} train steps; the timed ones are returned, {@code each} sees every step index. */
    List<Step> train(int warmup, int steps, List<Double> allLosses, IntConsumer each) {
        List<Step> out = new ArrayList<>();
        for (int i = 0; i < warmup + steps; i++) {
            Step st = trainStep(i);
            allLosses.add(st.loss());
            if (i >= warmup) {
                out.add(st);
            }
            if (each != null) {
                each.accept(i + 1);
            }
        }
        return out;
    }

    void close() {
        optimizer.close();
    }
}
