package io.peft4j.core.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import io.peft4j.api.Parameter;
import io.peft4j.core.train.checkpoint.CheckpointManager;
import io.peft4j.core.train.checkpoint.TensorFileFormat;
import io.peft4j.core.train.checkpoint.TrainerState;
import io.peft4j.core.train.optim.AdamW;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The trainer's checkpoints: what one holds (the {@link TrainerState}, the trainable tensors, the optimizer's
 * moments plus each {@link ExtraState} under {@code state/<name>/}) and how a run resumes from the newest one. A
 * checkpoint written by a run with another seed, batch size or accumulation is refused: resuming it would not
 * continue the same run.
 */
final class TrainerCheckpoints {
    /** Whole-tensor in-place assignment, outside any gradient collector. */
    private static final NDIndex ALL = new NDIndex("...");

    /** State saved with every checkpoint beside the optimizer's (see {@link Trainer.Builder#checkpointedState}). */
    record ExtraState(String name, Supplier<Map<String, NDArray>> save, Consumer<Map<String, NDArray>> load) {
        String prefix() {
            return "state/" + name + "/";
        }
    }

    /** A resumed run's position: its state and the checkpoint directory it came from. */
    record Resumed(TrainerState state, Path dir) {
    }

    private final CheckpointManager checkpoints;
    private final TrainingConfig config;
    private final List<Parameter> trainable;
    private final AdamW optimizer;
    private final List<ExtraState> extraStates;
    private final NDManager manager;

    TrainerCheckpoints(Path dir, TrainingConfig config, TensorFileFormat format, List<Parameter> trainable,
                       AdamW optimizer, List<ExtraState> extraStates, NDManager manager) {
        this.checkpoints = new CheckpointManager(dir, config.keepCheckpoints(), format);
        this.config = config;
        this.trainable = trainable;
        this.optimizer = optimizer;
        this.extraStates = extraStates;
        this.manager = manager;
    }

    /**
     * Loads the newest checkpoint into the trainable parameters, the optimizer, the extra states and {@code best};
     * empty when there is none.
     */
    Optional<Resumed> resumeLatest(BestEval best) throws IOException {
        Optional<Path> latest = checkpoints.latest();
        if (latest.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(new Resumed(restore(latest.get(), best), latest.get()));
    }

    /**
     * Writes a checkpoint after optimizer step {@code step} ({@code microBatches} consumed, {@code evalLoss} of this
     * step's eval or null) of the current parameters, optimizer and best-eval history; returns its directory.
     */
    Path save(int step, long microBatches, double elapsedSeconds, Double evalLoss, BestEval best) throws IOException {
        TrainerState state = new TrainerState(step, microBatches, config.seed(), config.batchSize(),
                config.gradientAccumulationSteps(), elapsedSeconds, optimizer.steps(), evalLoss, best.step(),
                best.loss(), best.evalsWithoutImprovement());
        Map<String, NDArray> optimizerFile = new LinkedHashMap<>(optimizer.stateTensors());
        for (ExtraState x : extraStates) {
            x.save().get().forEach((k, v) -> optimizerFile.put(x.prefix() + k, v));
        }
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        for (Parameter p : trainable) {
            tensors.put(p.name(), p.value());
        }
        return checkpoints.save(state, tensors, optimizerFile);
    }

    private TrainerState restore(Path dir, BestEval best) throws IOException {
        try (NDManager tmp = manager.newSubManager()) {
            CheckpointManager.Loaded l = checkpoints.load(dir, tmp);
            TrainerState s = l.state();
            if (s.seed() != config.seed() || s.batchSize() != config.batchSize()
                    || s.gradientAccumulationSteps() != config.gradientAccumulationSteps()) {
                throw new IllegalStateException(dir + ": checkpoint was written with seed " + s.seed()
                        + ", batch_size " + s.batchSize() + ", gradient_accumulation_steps "
                        + s.gradientAccumulationSteps() + "; this run has " + config.seed() + ", "
                        + config.batchSize() + ", " + config.gradientAccumulationSteps()
                        + " (resuming would not continue the same run)");
            }
            for (Parameter p : trainable) {
                NDArray t = l.trainable().get(p.name());
                if (t == null) {
                    throw new IllegalStateException(dir + ": checkpoint has no tensor for trainable parameter '"
                            + p.name() + "'");
                }
                if (!t.getShape().equals(p.value().getShape()) || t.getDataType() != p.value().getDataType()) {
                    throw new IllegalStateException(dir + ": tensor '" + p.name() + "' is " + t.getDataType() + " "
                            + t.getShape() + ", parameter is " + p.value().getDataType() + " "
                            + p.value().getShape());
                }
                p.value().set(ALL, t);
            }
            optimizer.loadState(l.optimizer(), s.optimizerSteps());
            for (ExtraState x : extraStates) {
                Map<String, NDArray> mine = new LinkedHashMap<>();
                l.optimizer().forEach((k, v) -> {
                    if (k.startsWith(x.prefix())) {
                        mine.put(k.substring(x.prefix().length()), v);
                    }
                });
                try {
                    x.load().accept(mine);
                } catch (IllegalArgumentException e) {
                    throw new IllegalStateException(dir + ": saved state '" + x.name() + "': " + e.getMessage(), e);
                }
            }
            best.resume(s.bestStep(), s.bestEvalLoss(), s.evalsWithoutImprovement(), bestWeights(s, l, tmp));
            return s;
        }
    }

    /**
     * The trainable tensors of the best eval a resumed checkpoint names: its own, or those of the retained
     * {@code step-<best>} checkpoint; null when that checkpoint is gone (the run then ends with its last weights
     * unless a later eval is better).
     */
    private Map<String, NDArray> bestWeights(TrainerState s, CheckpointManager.Loaded l, NDManager tmp)
            throws IOException {
        if (!config.loadBestAtEnd() || s.bestStep() == null) {
            return null;
        }
        if (s.bestStep() == s.step()) {
            return l.trainable();
        }
        Path dir = checkpoints.dir().resolve("step-" + s.bestStep());
        return Files.isDirectory(dir) ? checkpoints.load(dir, tmp).trainable() : null;
    }
}
