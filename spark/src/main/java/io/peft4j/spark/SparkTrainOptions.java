package io.peft4j.spark;

import java.io.Serializable;
import java.nio.file.Path;
import java.util.Objects;

/**
 * How {@link Peft4jSpark#train} runs on the cluster.
 *
 * @param pluginsDir         the plugins directory on the driver
 * @param executorPluginsDir the plugins directory as executors see it: a shared path, or a directory shipped with
 *                           {@code --archives plugins.zip#plugins} (then {@code plugins}, relative to the executor's
 *                           working directory); null: the same string as {@code pluginsDir}
 * @param executorModelPath  the model directory as executors see it (e.g. shipped with {@code --archives});
 *                           null: the configuration's {@code model.path}
 * @param workers            data-parallel workers, i.e. tasks per optimizer step; 0: Spark's default parallelism.
 *                           The micro-batches of a step ({@code training.grad_accumulation} of them) are dealt to the
 *                           workers round-robin, so use a multiple of {@code workers}
 * @param failOnce           test hook: the first attempt of this task fails half-way (null: none)
 * @param stopBeforeStep     test hook: the driver dies when it reaches this optimizer step (0: never)
 */
public record SparkTrainOptions(Path pluginsDir, String executorPluginsDir, String executorModelPath, int workers,
                                InjectedFailure failOnce, int stopBeforeStep) {
    public SparkTrainOptions {
        Objects.requireNonNull(pluginsDir, "pluginsDir");
        if (workers < 0) {
            throw new IllegalArgumentException("workers must be >= 0 (0: Spark's default parallelism), got " + workers);
        }
    }

    /** Same plugins directory and model path on driver and executors (local mode, or a shared file system). */
    public static SparkTrainOptions of(Path pluginsDir, int workers) {
        return new SparkTrainOptions(pluginsDir, null, null, workers, null, 0);
    }

    public SparkTrainOptions withExecutorPaths(String pluginsDir, String modelPath) {
        return new SparkTrainOptions(this.pluginsDir, pluginsDir, modelPath, workers, failOnce, stopBeforeStep);
    }

    /** Test hook: the first attempt of the task of {@code partition} at optimizer step {@code step} fails. */
    public SparkTrainOptions withFailOnce(int step, int partition) {
        return new SparkTrainOptions(pluginsDir, executorPluginsDir, executorModelPath, workers,
                new InjectedFailure(step, partition), stopBeforeStep);
    }

    /** Test hook: the driver throws {@link DriverStopped} when it reaches optimizer step {@code step}. */
    public SparkTrainOptions withStopBeforeStep(int step) {
        return new SparkTrainOptions(pluginsDir, executorPluginsDir, executorModelPath, workers, failOnce, step);
    }

    /** A one-time task failure injected by tests: after the task's first micro-batch, in its first attempt. */
    public record InjectedFailure(int step, int partition) implements Serializable {
    }

    /** Thrown by the driver at {@link #stopBeforeStep()}: stands for a killed driver in resume tests. */
    public static final class DriverStopped extends RuntimeException {
        public DriverStopped(int step) {
            super("driver stopped before optimizer step " + step + " (test hook)");
        }
    }
}
