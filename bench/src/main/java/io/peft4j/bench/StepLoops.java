package io.peft4j.bench;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import io.peft4j.api.ParamGroup;
import io.peft4j.core.model.PlatformForwardContext;
import io.peft4j.core.train.optim.AdamW;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * The timed loops. Forward: logits only, torch grad mode off, in an {@link NDScope} per pass (the scope's closing
 * is not timed, as the peer's tensor frees fall outside its timer). Train step, timed in two phases:
 * <ol>
 *   <li>{@code fwd_bwd}: forward in training mode, the shifted causal-LM cross-entropy (mean over {@code B·(T-1)}
 *       tokens) and backward inside a {@link GradientCollector}, reading the loss and closing the pass's
 *       temporaries - one call ({@link io.peft4j.core.model.LlamaModel#causalLmBackward}), because the fused
 *       lm_head + loss and activation checkpointing interleave forward and backward;</li>
 *   <li>{@code opt}: {@link AdamW#step} and {@link AdamW#zeroGrad} (outside the collector: in-place updates).</li>
 * </ol>
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
    record Step(double forwardBackward, double opt, double loss) {
        double total() {
            return forwardBackward + opt;
        }
    }

    /** One train step on batch {@code i mod BATCHES}. */
    Step trainStep(int i) {
        NDArray ids = s.batches.get(i % s.batches.size());
        long t0 = System.nanoTime();
        float loss;
        try (NDManager sm = s.model.manager().newSubManager();
             NDScope ignored = new NDScope();
             GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            loss = s.model.causalLmBackward(ids, null, ids, 1.0 / countedTokens, new PlatformForwardContext(true, sm),
                    gc, checkpointing);
        }
        long t1 = System.nanoTime();
        optimizer.step(1.0);
        optimizer.zeroGrad();
        long t2 = System.nanoTime();
        return new Step((t1 - t0) / 1e9, (t2 - t1) / 1e9, loss);
    }

    /** {@code warmup + steps} train steps; the timed ones are returned, {@code each} sees every step index. */
    List<Step> train(int warmup, int steps, List<Double> allLosses, IntConsumer each) {
        List<Step> out = new ArrayList<>();
        // -Dpeft4j.bench.profile=FILE writes a torch profiler trace (chrome://tracing JSON) of the first timed step.
        String profile = System.getProperty("peft4j.bench.profile");
        for (int i = 0; i < warmup + steps; i++) {
            boolean profiled = profile != null && i == warmup;
            if (profiled) {
                JniUtils.startProfile(false, true, false);
            }
            Step st = trainStep(i);
            if (profiled) {
                JniUtils.stopProfile(profile);
            }
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
