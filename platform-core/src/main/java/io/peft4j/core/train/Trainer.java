package io.peft4j.core.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.training.GradientCollector;
import io.peft4j.api.ForwardContext;
import io.peft4j.api.ParamGroup;
import io.peft4j.api.Parameter;
import io.peft4j.core.model.CausalLM;
import io.peft4j.core.train.checkpoint.SimpleSafetensors;
import io.peft4j.core.train.checkpoint.TensorFileFormat;
import io.peft4j.core.train.checkpoint.TrainerState;
import io.peft4j.core.train.data.Batch;
import io.peft4j.core.train.data.DataLoader;
import io.peft4j.core.train.optim.AdamW;
import io.peft4j.core.train.optim.GradientClipping;
import io.peft4j.core.train.optim.LrSchedule;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The training loop. One optimizer step:
 * <ol>
 *   <li>for each of the {@code gradientAccumulationSteps} micro-batches ({@link MicroBatchBackward}): the engine's
 *       random generator is seeded from {@code (config.seed, step, index in step)}, so dropout masks depend only on
 *       these (a resumed run, or another process running the micro-batch, draws the same masks); then, inside an
 *       {@link NDScope}, a per-pass sub-manager and a {@link GradientCollector}: forward in training mode,
 *       {@code loss = nll_sum(micro) / counted_tokens(all micro-batches of the step) + sum(aux) / microBatches},
 *       backward (gradients accumulate); the step's loss is the sum of these, i.e. the token mean over the step plus
 *       the auxiliary terms once. The language-model term goes through {@link CausalLM#causalLmBackward} (the
 *       Llama model fuses lm_head and the loss, and with {@code gradientCheckpointing} recomputes activations layer
 *       by layer; same gradients) and the auxiliary terms get their own backward. A {@link GradientSource} given to
 *       the builder replaces this item (data-parallel training: workers compute the micro-batches);</li>
 *   <li>outside the scope: global-norm clipping (pre-clip norm reported), AdamW step with
 *       {@code lr = group.lr * schedule.factor(step - 1)}, the {@link StepCallback}s (gradients still readable), then
 *       gradients are zeroed;</li>
 *   <li>eval ({@link EvalPass}), metrics line and progress bar ({@link TrainingLog}) and checkpoint
 *       ({@link TrainerCheckpoints}, which also resumes) as configured; the best eval is tracked ({@link BestEval})
 *       for {@code loadBestAtEnd} and early stopping.</li>
 * </ol>
 * The data stream is continuous across epochs: micro-batch {@code k} is batch {@code k % batchesPerEpoch} of epoch
 * {@code k / batchesPerEpoch}.
 *
 * <p>Usage:
 * <pre>{@code
 * try (Trainer t = Trainer.builder(model, config)
 *         .parameterGroups(groups)                    // from an OptimizerPolicy, or one ParamGroup
 *         .adamW(0.9, 0.999, 1e-8)
 *         .schedule(LrSchedule.Kind.COSINE, warmup)
 *         .trainData(trainLoader).evalData(evalLoader)
 *         .auxiliaryLoss(adapter::auxiliaryLoss)       // AdaLoRA's orthogonal regulariser
 *         .afterStep(m -> allocator.afterStep(m.step()))
 *         .build()) {
 *     TrainingResult r = t.train();
 * }
 * }</pre>
 */
public final class Trainer implements AutoCloseable {
    /** Metrics file name inside the output directory. */
    public static final String METRICS_FILE = "metrics.jsonl";
    /** Loss plot file name inside the output directory. */
    public static final String PLOT_FILE = "loss.png";
    /** Checkpoints directory name inside the output directory. */
    public static final String CHECKPOINTS_DIR = "checkpoints";

    private final CausalLM model;
    private final TrainingConfig config;
    private final List<ParamGroup> groups;
    private final List<Parameter> trainable;
    private final AdamW optimizer;
    private final LrSchedule schedule;
    private final DataLoader train;
    private final DataLoader eval;
    private final List<Function<ForwardContext, Optional<NDArray>>> auxLosses;
    private final List<StepCallback> callbacks;
    private final List<TrainerCheckpoints.ExtraState> extraStates;
    private final MicroBatchBackward backward;
    private final GradientSource gradientSource;
    private final TensorFileFormat format;
    private final int totalSteps;

    /**
     * Produces the gradients of one optimizer step: on return every trainable parameter's gradient holds the sum over
     * the step's micro-batches of {@link MicroBatchBackward#run} (as if run in this process), and the result is the
     * step's loss. The seam for data-parallel training (the spark module); the default runs the micro-batches here.
     */
    @FunctionalInterface
    public interface GradientSource {
        /**
         * @param step          the optimizer step (1-based)
         * @param window        the step's micro-batches, in order
         * @param countedTokens counted tokens of the whole window (the loss normaliser)
         */
        double accumulate(int step, List<Batch> window, long countedTokens);
    }

    private Trainer(Builder b) {
        this.model = b.model;
        this.config = b.config;
        this.groups = List.copyOf(b.groups);
        this.train = b.train;
        this.eval = b.eval;
        this.auxLosses = List.copyOf(b.auxLosses);
        this.callbacks = List.copyOf(b.callbacks);
        this.extraStates = List.copyOf(b.extraStates);
        this.format = b.format;
        this.backward = new MicroBatchBackward(model, auxLosses, config.gradientCheckpointing(), config.seed());
        this.gradientSource = b.gradientSource != null ? b.gradientSource : this::accumulateHere;
        List<Parameter> t = new ArrayList<>();
        for (ParamGroup g : groups) {
            for (Parameter p : g.parameters()) {
                if (p.trainable()) {
                    t.add(p);
                }
            }
        }
        if (t.isEmpty()) {
            throw new IllegalArgumentException("no trainable parameters in the optimizer groups");
        }
        this.trainable = List.copyOf(t);
        if (config.maxSteps() > 0) {
            this.totalSteps = config.maxSteps();
        } else {
            long micro = (long) config.epochs() * train.batchesPerEpoch();
            this.totalSteps = Math.toIntExact((micro + config.gradientAccumulationSteps() - 1)
                    / config.gradientAccumulationSteps());
        }
        this.schedule = b.schedule != null ? b.schedule : LrSchedule.of(b.kind, b.warmupSteps, totalSteps);
        this.optimizer = new AdamW(groups, b.beta1, b.beta2, b.eps, model.manager());
    }

    public static Builder builder(CausalLM model, TrainingConfig config) {
        return new Builder(model, config);
    }

    /** Whether eval data was given (without it {@link #evaluate} cannot run and no eval happens in training). */
    public boolean hasEvalData() {
        return eval != null;
    }

    /** The number of optimizer steps of the run. */
    public int totalSteps() {
        return totalSteps;
    }

    public AdamW optimizer() {
        return optimizer;
    }

    public List<Parameter> trainableParameters() {
        return trainable;
    }

    /**
     * Runs the loop to {@link #totalSteps()}, continuing from the newest checkpoint when {@code config.resume()}.
     * Turns on gradients of the trainable parameters.
     */
    public TrainingResult train() throws IOException {
        for (Parameter p : trainable) {
            p.value().setRequiresGradient(true);
        }
        Path out = config.outputDir();
        Files.createDirectories(out);
        TrainerCheckpoints checkpoints = new TrainerCheckpoints(out.resolve(CHECKPOINTS_DIR), config, format,
                trainable, optimizer, extraStates, model.manager());
        int step = 0;
        long micro = 0;
        double elapsedBefore = 0;
        Path lastCheckpoint = null;
        BestEval best = new BestEval(config.loadBestAtEnd(), config.earlyStoppingPatience(),
                config.earlyStoppingThreshold(), model.manager());
        boolean stoppedEarly = false;
        boolean endedWithBest = false;
        if (config.resume()) {
            Optional<TrainerCheckpoints.Resumed> resumed = checkpoints.resumeLatest(best);
            if (resumed.isPresent()) {
                TrainerState s = resumed.get().state();
                step = s.step();
                micro = s.microBatches();
                elapsedBefore = s.elapsedSeconds();
                lastCheckpoint = resumed.get().dir();
            }
        }
        int firstStep = step + 1;
        List<Double> losses = new ArrayList<>();
        EvalResult lastEval = null;
        long start = System.nanoTime();
        try (best; TrainingLog log = new TrainingLog(out, config, totalSteps, step)) {
            while (step < totalSteps) {
                long stepStart = System.nanoTime();
                int s = step + 1;
                double factor = schedule.factor(step);
                List<Batch> window = new ArrayList<>(config.gradientAccumulationSteps());
                for (int i = 0; i < config.gradientAccumulationSteps(); i++, micro++) {
                    int per = train.batchesPerEpoch();
                    window.add(train.batch(Math.toIntExact(micro / per), (int) (micro % per)));
                }
                long counted = 0;
                long tokens = 0;
                for (Batch b : window) {
                    counted += b.countedTokens();
                    tokens += b.tokens();
                }
                double loss = gradientSource.accumulate(s, window, counted);
                double gradNorm = GradientClipping.clip(trainable, config.maxGradNorm());
                optimizer.step(factor);
                step = s;
                double lr = groups.get(0).lr() * factor;
                StepMetrics metrics = new StepMetrics(step, loss, lr, gradNorm, tokens);
                for (StepCallback cb : callbacks) {
                    cb.afterStep(metrics);
                }
                optimizer.zeroGrad();
                long stepNanos = System.nanoTime() - stepStart;
                losses.add(loss);

                boolean evalNow = eval != null && (step == totalSteps
                        || (config.evalEvery() > 0 && step % config.evalEvery() == 0));
                EvalResult ev = null;
                boolean improved = false;
                if (evalNow) {
                    ev = evaluate();
                    lastEval = ev;
                    improved = best.observe(step, ev.loss(), trainable);
                    stoppedEarly = step < totalSteps && best.shouldStop();
                }
                boolean last = step == totalSteps || stoppedEarly;
                double elapsed = elapsedBefore + (System.nanoTime() - start) / 1e9;
                log.step(metrics, stepNanos, ev, last || step % config.logEvery() == 0, elapsed, best);
                // A new best is checkpointed too, so a resumed run can still end with the best weights.
                if (config.checkpointEvery() > 0 && (last || step % config.checkpointEvery() == 0
                        || improved && config.loadBestAtEnd())) {
                    lastCheckpoint = checkpoints.save(step, micro, elapsed, ev != null ? ev.loss() : null, best);
                }
                if (stoppedEarly) {
                    log.stoppedEarly(step, best);
                    break;
                }
            }
            log.finish();
            endedWithBest = config.loadBestAtEnd() && best.hasWeights(trainable);
            if (endedWithBest) {
                best.restoreInto(trainable);
            }
        }
        return new TrainingResult(step, losses, firstStep, lastEval, lastCheckpoint, best.step(), best.loss(),
                stoppedEarly, endedWithBest);
    }

    /** The default {@link GradientSource}: every micro-batch of the window in this process. */
    private double accumulateHere(int step, List<Batch> window, long countedTokens) {
        double loss = 0;
        for (int i = 0; i < window.size(); i++) {
            loss += backward.run(step, i, window.get(i), countedTokens, window.size());
        }
        return loss;
    }

    /** Mean loss per counted token and perplexity over the whole eval set ({@link EvalPass}). */
    public EvalResult evaluate() {
        if (eval == null) {
            throw new IllegalStateException("no eval data was given to the trainer");
        }
        return EvalPass.run(model, eval);
    }

    @Override
    public void close() {
        optimizer.close();
    }

    /** Assembles a {@link Trainer}; {@link #parameterGroups} and {@link #trainData} are required. */
    public static final class Builder {
        private final CausalLM model;
        private final TrainingConfig config;
        private List<ParamGroup> groups;
        private double beta1 = 0.9;
        private double beta2 = 0.999;
        private double eps = 1e-8;
        private LrSchedule schedule;
        private LrSchedule.Kind kind = LrSchedule.Kind.CONSTANT;
        private int warmupSteps = 0;
        private DataLoader train;
        private DataLoader eval;
        private final List<Function<ForwardContext, Optional<NDArray>>> auxLosses = new ArrayList<>();
        private final List<StepCallback> callbacks = new ArrayList<>();
        private final List<TrainerCheckpoints.ExtraState> extraStates = new ArrayList<>();
        private TensorFileFormat format = new SimpleSafetensors();
        private GradientSource gradientSource;

        private Builder(CausalLM model, TrainingConfig config) {
            this.model = Objects.requireNonNull(model, "model");
            this.config = Objects.requireNonNull(config, "config");
        }

        /** Optimizer groups (learning rate and weight decay each); their trainable parameters are trained. */
        public Builder parameterGroups(List<ParamGroup> groups) {
            this.groups = List.copyOf(groups);
            return this;
        }

        /** AdamW betas and epsilon (defaults 0.9, 0.999, 1e-8 as in PyTorch). */
        public Builder adamW(double beta1, double beta2, double eps) {
            this.beta1 = beta1;
            this.beta2 = beta2;
            this.eps = eps;
            return this;
        }

        /** A schedule kind with warmup, resolved against the run's total steps (default constant, no warmup). */
        public Builder schedule(LrSchedule.Kind kind, int warmupSteps) {
            this.kind = Objects.requireNonNull(kind, "kind");
            this.warmupSteps = warmupSteps;
            this.schedule = null;
            return this;
        }

        /** A ready schedule. */
        public Builder schedule(LrSchedule schedule) {
            this.schedule = Objects.requireNonNull(schedule, "schedule");
            return this;
        }

        public Builder trainData(DataLoader train) {
            this.train = train;
            return this;
        }

        public Builder evalData(DataLoader eval) {
            this.eval = eval;
            return this;
        }

        /** An extra loss term added in training (e.g. {@code adapterInstance::auxiliaryLoss}). */
        public Builder auxiliaryLoss(Function<ForwardContext, Optional<NDArray>> term) {
            auxLosses.add(Objects.requireNonNull(term, "term"));
            return this;
        }

        /**
         * State that is saved with every checkpoint and restored on resume, beside the optimizer's (e.g. a rank
         * allocator's importance averages). Its tensors are stored in the optimizer file under
         * {@code state/<name>/<key>}.
         *
         * @param save returns the current state (read during the call)
         * @param load receives the saved state (an empty map for a checkpoint written without it)
         */
        public Builder checkpointedState(String name, Supplier<Map<String, NDArray>> save,
                                         Consumer<Map<String, NDArray>> load) {
            extraStates.add(new TrainerCheckpoints.ExtraState(Objects.requireNonNull(name, "name"), save, load));
            return this;
        }

        /** Called after each optimizer step, before gradients are zeroed. */
        public Builder afterStep(StepCallback callback) {
            callbacks.add(Objects.requireNonNull(callback, "callback"));
            return this;
        }

        /** Where each step's gradients come from (default: this process; see {@link GradientSource}). */
        public Builder gradientSource(GradientSource source) {
            this.gradientSource = Objects.requireNonNull(source, "source");
            return this;
        }

        /** The checkpoint tensor format (default {@link SimpleSafetensors}). */
        public Builder tensorFormat(TensorFileFormat format) {
            this.format = Objects.requireNonNull(format, "format");
            return this;
        }

        public Trainer build() {
            if (groups == null || groups.isEmpty()) {
                throw new IllegalArgumentException("trainer: parameterGroups are required");
            }
            if (train == null) {
                throw new IllegalArgumentException("trainer: trainData is required");
            }
            if (train.batchSize() != config.batchSize()) {
                throw new IllegalArgumentException("trainer: the train data loader batches " + train.batchSize()
                        + " rows but training.batch_size is " + config.batchSize());
            }
            return new Trainer(this);
        }
    }
}
