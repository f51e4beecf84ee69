package io.peft4j.bench;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Options of a benchmark run. Defaults (see {@link #builder()}) are the peer's: r=8, alpha=16, AdamW lr 1e-3 with no
 * weight decay, 3 warm-up + 5 timed steps, 2 torch threads, seed 1234, the shape's batch and sequence length.
 *
 * @param cases        configurations, measured in this order
 * @param pluginsDir   the plugins directory holding the {@code lora} adapter (LoRA, merge and RSS modes)
 * @param rank         LoRA {@code r}
 * @param alpha        LoRA {@code lora_alpha}
 * @param lr           AdamW learning rate (betas 0.9/0.999, eps 1e-8, weight decay 0)
 * @param batch        batch size; 0 = the shape's default (8 for model directories)
 * @param seq          sequence length; 0 = the shape's default (256, at most max_position_embeddings)
 * @param warmup       untimed steps before the timed ones
 * @param steps        timed steps (the median is reported)
 * @param threads      torch intra-op threads (also inter-op where the engine still allows it)
 * @param seed         seed of the weights, the adapter init and the random tokens
 * @param rssSteps     train steps of {@link BenchMode#RSS}
 * @param rssEvery     RSS sampling interval (steps) of {@link BenchMode#RSS}
 * @param fork         run each case in a fresh JVM (so {@code rss_peak_mib} is per case) when there are several
 * @param printEnv     print the {@code kind: env} line first (it measures the matmul peaks)
 * @param peak1024     known 1024³ matmul GFLOP/s (0 = measure); used by forked children
 * @param peak2048     known 2048³ matmul GFLOP/s (0 = measure)
 * @param baseQuant    quantizer id for the frozen base linears (e.g. {@code nf4}; QLoRA), or null for float32
 * @param gradCheckpoint train steps with activation checkpointing ({@code training.gradient_checkpointing})
 * @param fusedLoss    lm_head and the loss fused in row chunks (the default); false: through autograd at full size
 * @param quantEvalSteps with {@code baseQuant}: also train the bundled demo task's LoRA run this many steps on the
 *                     float32 and on the quantized base and report the eval-loss difference (0 = off)
 * @param timeForward  time forward-only passes before the train steps (lora/full modes); off for large models,
 *                     where only load and training are measured
 */
public record BenchOptions(List<BenchCase> cases, Path pluginsDir, int rank, double alpha, double lr, int batch,
                           int seq, int warmup, int steps, int threads, long seed, int rssSteps, int rssEvery,
                           boolean fork, boolean printEnv, double peak1024, double peak2048, String baseQuant,
                           boolean gradCheckpoint, boolean fusedLoss, int quantEvalSteps, boolean timeForward) {

    public BenchOptions {
        cases = List.copyOf(cases);
        if (cases.isEmpty()) {
            throw new IllegalArgumentException("no bench case given (choose a size or --model, and a mode)");
        }
        positive("r", rank);
        positive("steps", steps);
        positive("threads", threads);
        positive("rss-steps", rssSteps);
        positive("rss-every", rssEvery);
        if (quantEvalSteps < 0 || (quantEvalSteps > 0 && baseQuant == null)) {
            throw new IllegalArgumentException("quant-eval needs --quant (the quantizer to compare with float32) and "
                    + "a step count >= 0, got " + quantEvalSteps + (baseQuant == null ? " without --quant" : ""));
        }
        if (warmup < 0 || batch < 0 || seq < 0) {
            throw new IllegalArgumentException("warmup, batch and seq must be >= 0, got " + warmup + ", " + batch
                    + ", " + seq);
        }
        if (!(alpha > 0) || !(lr > 0)) {
            throw new IllegalArgumentException("alpha and lr must be > 0, got " + alpha + ", " + lr);
        }
        boolean needsPlugin = cases.stream().anyMatch(c -> c.mode() != BenchMode.FULL);
        if (needsPlugin && pluginsDir == null) {
            throw new IllegalArgumentException("the lora, merge and rss modes need a plugins directory holding the"
                    + " lora plugin (pluginsDir)");
        }
    }

    private static void positive(String name, int v) {
        if (v <= 0) {
            throw new IllegalArgumentException(name + " must be > 0, got " + v);
        }
    }

    /** A copy measuring only {@code c}, without the env line, with known peaks (for a forked child). */
    public BenchOptions forChild(BenchCase c, double p1024, double p2048) {
        return new BenchOptions(List.of(c), pluginsDir, rank, alpha, lr, batch, seq, warmup, steps, threads, seed,
                rssSteps, rssEvery, false, false, p1024, p2048, baseQuant, gradCheckpoint, fusedLoss, 0, timeForward);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Builder with the peer's defaults. */
    public static final class Builder {
        private final List<BenchCase> cases = new ArrayList<>();
        private Path pluginsDir;
        private int rank = 8;
        private double alpha = 16;
        private double lr = 1e-3;
        private int batch;
        private int seq;
        private int warmup = 3;
        private int steps = 5;
        private int threads = 2;
        private long seed = 1234;
        private int rssSteps = 1000;
        private int rssEvery = 50;
        private String baseQuant;
        private boolean gradCheckpoint;
        private boolean fusedLoss = true;
        private int quantEvalSteps;
        private boolean timeForward = true;
        private boolean fork = true;
        private boolean printEnv = true;
        private double peak1024;
        private double peak2048;

        public Builder add(BenchCase c) {
            cases.add(c);
            return this;
        }

        public Builder add(BenchShape shape, BenchMode mode, String targets) {
            return add(new BenchCase(shape, null, mode, targets));
        }

        public Builder pluginsDir(Path p) {
            pluginsDir = p;
            return this;
        }

        public Builder rank(int v) {
            rank = v;
            return this;
        }

        public Builder alpha(double v) {
            alpha = v;
            return this;
        }

        public Builder lr(double v) {
            lr = v;
            return this;
        }

        public Builder batch(int v) {
            batch = v;
            return this;
        }

        public Builder seq(int v) {
            seq = v;
            return this;
        }

        public Builder warmup(int v) {
            warmup = v;
            return this;
        }

        public Builder steps(int v) {
            steps = v;
            return this;
        }

        public Builder threads(int v) {
            threads = v;
            return this;
        }

        public Builder seed(long v) {
            seed = v;
            return this;
        }

        public Builder rssSteps(int v) {
            rssSteps = v;
            return this;
        }

        public Builder rssEvery(int v) {
            rssEvery = v;
            return this;
        }

        public Builder quantEvalSteps(int steps) {
            quantEvalSteps = steps;
            return this;
        }

        public Builder timeForward(boolean on) {
            timeForward = on;
            return this;
        }

        public Builder fusedLoss(boolean on) {
            fusedLoss = on;
            return this;
        }

        public Builder gradCheckpoint(boolean on) {
            gradCheckpoint = on;
            return this;
        }

        public Builder baseQuant(String id) {
            baseQuant = id;
            return this;
        }

        public Builder fork(boolean v) {
            fork = v;
            return this;
        }

        public Builder printEnv(boolean v) {
            printEnv = v;
            return this;
        }

        public Builder peaks(double p1024, double p2048) {
            peak1024 = p1024;
            peak2048 = p2048;
            return this;
        }

        public BenchOptions build() {
            return new BenchOptions(cases, pluginsDir, rank, alpha, lr, batch, seq, warmup, steps, threads, seed,
                    rssSteps, rssEvery, fork, printEnv, peak1024, peak2048, baseQuant, gradCheckpoint, fusedLoss,
                    quantEvalSteps, timeForward);
        }
    }
}
