package io.peft4j.core.train;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Settings of one training run.
 *
 * @param maxSteps                  optimizer steps to run; when {@code > 0} it wins over {@code epochs}
 * @param epochs                    passes over the training rows, used when {@code maxSteps <= 0}: the run makes
 *                                  {@code ceil(epochs * batchesPerEpoch / gradientAccumulationSteps)} steps
 * @param batchSize                 rows per micro-batch (the data loader's batch size must match)
 * @param gradientAccumulationSteps micro-batches per optimizer step, &gt;= 1; the loss of a step is the mean over all
 *                                  counted tokens of its micro-batches
 * @param maxGradNorm               global-norm clipping threshold; {@code <= 0} disables clipping (the norm is still
 *                                  reported)
 * @param evalEvery                 evaluate every N steps (and at the end); 0 evaluates only at the end
 * @param checkpointEvery           checkpoint every N steps (and at the end); 0 disables checkpoints
 * @param keepCheckpoints           how many checkpoints to keep, &gt;= 1
 * @param seed                      seed of dropout and every other engine random draw (data order uses the data
 *                                  loader's own seed)
 * @param logEvery                  write a metrics line every N steps, &gt;= 1
 * @param outputDir                 where {@code metrics.jsonl}, {@code loss.png} and {@code checkpoints/} go
 * @param progressBar               show a console progress bar (ignored without a console)
 * @param resume                    continue from the newest checkpoint in {@code outputDir/checkpoints} if there is
 *                                  one
 * @param gradientCheckpointing     recompute each decoder layer's activations during backward instead of keeping
 *                                  them (less memory, one more forward of the layers; see
 *                                  {@link io.peft4j.core.model.LlamaModel#causalLmBackward})
 * @param loadBestAtEnd             after the last step, put back the trainable tensors of the eval with the lowest
 *                                  loss (Hugging Face's {@code load_best_model_at_end}); a new best eval is also
 *                                  checkpointed when checkpoints are on, and checkpoint retention never removes it
 * @param earlyStoppingPatience     stop after this many evals in a row without an improvement of more than
 *                                  {@code earlyStoppingThreshold} over the best eval loss; 0 = never
 * @param earlyStoppingThreshold    the improvement an eval must make to reset the patience count, &gt;= 0
 */
public record TrainingConfig(int maxSteps, int epochs, int batchSize, int gradientAccumulationSteps,
                             double maxGradNorm, int evalEvery, int checkpointEvery, int keepCheckpoints, long seed,
                             int logEvery, Path outputDir, boolean progressBar, boolean resume,
                             boolean gradientCheckpointing, boolean loadBestAtEnd, int earlyStoppingPatience,
                             double earlyStoppingThreshold) {
    public TrainingConfig {
        Objects.requireNonNull(outputDir, "outputDir");
        if (maxSteps <= 0 && epochs <= 0) {
            throw new IllegalArgumentException("training: set max_steps > 0 or epochs > 0");
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("training.batch_size must be >= 1, got " + batchSize);
        }
        if (gradientAccumulationSteps < 1) {
            throw new IllegalArgumentException("training.gradient_accumulation_steps must be >= 1, got "
                    + gradientAccumulationSteps);
        }
        if (evalEvery < 0 || checkpointEvery < 0) {
            throw new IllegalArgumentException("training.eval_every and checkpoint_every must be >= 0");
        }
        if (keepCheckpoints < 1) {
            throw new IllegalArgumentException("training.keep_checkpoints must be >= 1, got " + keepCheckpoints);
        }
        if (logEvery < 1) {
            throw new IllegalArgumentException("training.log_every must be >= 1, got " + logEvery);
        }
        if (earlyStoppingPatience < 0 || !(earlyStoppingThreshold >= 0)) {
            throw new IllegalArgumentException("training.early_stopping_patience and early_stopping_threshold must "
                    + "be >= 0, got " + earlyStoppingPatience + " and " + earlyStoppingThreshold);
        }
    }

    /** Defaults: 1 epoch, batch 1, no accumulation, clip at 1.0, eval at end, checkpoint every 500, keep 3. */
    public static Builder builder(Path outputDir) {
        return new Builder(outputDir);
    }

    /** Builder with the defaults listed at {@link #builder}. */
    public static final class Builder {
        private int maxSteps = 0;
        private int epochs = 1;
        private int batchSize = 1;
        private int gradientAccumulationSteps = 1;
        private double maxGradNorm = 1.0;
        private int evalEvery = 0;
        private int checkpointEvery = 500;
        private int keepCheckpoints = 3;
        private long seed = 42;
        private int logEvery = 1;
        private final Path outputDir;
        private boolean progressBar = true;
        private boolean resume = false;
        private boolean gradientCheckpointing = false;
        private boolean loadBestAtEnd = false;
        private int earlyStoppingPatience = 0;
        private double earlyStoppingThreshold = 0;

        private Builder(Path outputDir) {
            this.outputDir = outputDir;
        }

        public Builder maxSteps(int v) { maxSteps = v; return this; }
        public Builder epochs(int v) { epochs = v; return this; }
        public Builder batchSize(int v) { batchSize = v; return this; }
        public Builder gradientAccumulationSteps(int v) { gradientAccumulationSteps = v; return this; }
        public Builder maxGradNorm(double v) { maxGradNorm = v; return this; }
        public Builder evalEvery(int v) { evalEvery = v; return this; }
        public Builder checkpointEvery(int v) { checkpointEvery = v; return this; }
        public Builder keepCheckpoints(int v) { keepCheckpoints = v; return this; }
        public Builder seed(long v) { seed = v; return this; }
        public Builder logEvery(int v) { logEvery = v; return this; }
        public Builder progressBar(boolean v) { progressBar = v; return this; }
        public Builder resume(boolean v) { resume = v; return this; }
        public Builder gradientCheckpointing(boolean v) { gradientCheckpointing = v; return this; }
        public Builder loadBestAtEnd(boolean v) { loadBestAtEnd = v; return this; }
        public Builder earlyStoppingPatience(int v) { earlyStoppingPatience = v; return this; }
        public Builder earlyStoppingThreshold(double v) { earlyStoppingThreshold = v; return this; }

        public TrainingConfig build() {
            return new TrainingConfig(maxSteps, epochs, batchSize, gradientAccumulationSteps, maxGradNorm, evalEvery,
                    checkpointEvery, keepCheckpoints, seed, logEvery, outputDir, progressBar, resume,
                    gradientCheckpointing, loadBestAtEnd, earlyStoppingPatience, earlyStoppingThreshold);
        }
    }
}
