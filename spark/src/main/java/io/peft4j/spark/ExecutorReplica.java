package io.peft4j.spark;

import ai.djl.engine.Engine;
import io.peft4j.api.Parameter;
import io.peft4j.core.config.RunConfig;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.run.RunConfigValidator;
import io.peft4j.core.run.RunPlan;
import io.peft4j.core.run.TuningSession;
import io.peft4j.core.train.FlatParameters;
import io.peft4j.core.train.MicroBatchBackward;
import java.nio.file.Path;
import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;

/**
 * An executor JVM's replica of the driver's session: plugins, base model and adapters, loaded once per JVM and kept
 * for later steps (and later runs of an equal {@link WorkerSpec}). Its trainable values are overwritten from the
 * driver's broadcast before each step, so its own initialisation never matters.
 *
 * <p>All work on a replica holds {@link #LOCK}: DJL allows one open gradient collector per JVM and the engine's random
 * generator is process-wide, so tasks that share an executor JVM (several cores, or {@code local[N]}) take turns.
 */
final class ExecutorReplica implements AutoCloseable {
    /** Serialises forward/backward passes (and the driver's gradient writes in local mode) within one JVM. */
    static final Object LOCK = new Object();
    private static ExecutorReplica current;

    private final String key;
    private final PluginRuntime runtime;
    private final TuningSession session;
    private final MicroBatchBackward backward;
    private final FlatParameters flat;
    private String loadedVersion;

    private ExecutorReplica(String key, PluginRuntime runtime, TuningSession session) {
        this.key = key;
        this.runtime = runtime;
        this.session = session;
        this.backward = session.microBatchBackward();
        this.flat = new FlatParameters(session.peft().trainableParameters());
        for (Parameter p : flat.parameters()) {
            p.value().setRequiresGradient(true);
        }
    }

    /** Computes one worker's share of a step on this JVM's replica. */
    static GradientSum.Partial compute(WorkerSpec spec, AdapterState state, StepShare share,
                                       SparkTrainOptions.InjectedFailure failOnce) {
        TaskContext task = TaskContext.get();
        String executor = SparkEnv.get() != null ? SparkEnv.get().executorId() : "local";
        if (share.microBatches().isEmpty()) {
            return new GradientSum.Partial(share.worker(), executor, null, null, 0, 0);
        }
        synchronized (LOCK) {
            ExecutorReplica r = replica(spec);
            r.load(state);
            long t0 = System.nanoTime();
            // A failed earlier attempt of this task may have left a partial sum behind.
            r.flat.zeroGradients();
            double loss = 0;
            for (StepShare.MicroBatch mb : share.microBatches()) {
                loss += r.backward.run(share.step(), mb.index(), mb.batch(), share.countedTokens(),
                        share.microBatchesInStep());
                if (failOnce != null && failOnce.step() == share.step() && task != null
                        && failOnce.partition() == task.partitionId() && task.attemptNumber() == 0) {
                    throw new IllegalStateException("injected failure (test hook) in step " + share.step()
                            + ", partition " + task.partitionId() + ", after micro-batch " + mb.index());
                }
            }
            boolean[] defined = new boolean[r.flat.parameters().size()];
            float[] gradient = r.flat.gradients(defined);
            r.flat.zeroGradients();
            return new GradientSum.Partial(share.worker(), executor, gradient, defined, loss,
                    System.nanoTime() - t0);
        }
    }

    private static ExecutorReplica replica(WorkerSpec spec) {
        if (current != null && current.key.equals(spec.key())) {
            return current;
        }
        if (current != null) {
            current.close();
            current = null;
        }
        current = open(spec);
        return current;
    }

    private static ExecutorReplica open(WorkerSpec spec) {
        // An executor started by spark-submit may lack the launcher's flags: DJL must not download natives.
        if (System.getProperty("ai.djl.offline") == null) {
            System.setProperty("ai.djl.offline", "true");
        }
        if (System.getProperty("ai.djl.default_engine") == null) {
            System.setProperty("ai.djl.default_engine", "PyTorch");
        }
        Engine.getInstance();
        Path plugins = Path.of(spec.pluginsDir());
        PluginRuntime rt = PluginRuntime.start(plugins);
        try {
            RunConfig cfg = ConfigJson.read(spec.configJson());
            RunPlan plan = RunConfigValidator.validate(cfg, rt.extensions());
            return new ExecutorReplica(spec.key(), rt, TuningSession.open(plan, rt.extensions()));
        } catch (RuntimeException e) {
            rt.close();
            throw new IllegalStateException("executor " + (SparkEnv.get() != null ? SparkEnv.get().executorId() : "")
                    + ": cannot build the model replica from plugins directory " + plugins.toAbsolutePath() + ": "
                    + e.getMessage(), e);
        }
    }

    private void load(AdapterState state) {
        if (state.version().equals(loadedVersion)) {
            return;
        }
        if (!state.layout().equals(flat.names())) {
            throw new IllegalStateException("the executor's adapters differ from the driver's (different plugins or "
                    + "configuration?): driver " + state.layout() + ", executor " + flat.names());
        }
        loadedVersion = null;
        flat.setValues(state.values());
        loadedVersion = state.version();
    }

    @Override
    public void close() {
        try {
            session.close();
        } finally {
            runtime.close();
        }
    }
}
