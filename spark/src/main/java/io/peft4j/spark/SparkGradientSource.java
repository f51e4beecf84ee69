package io.peft4j.spark;

import io.peft4j.core.train.FlatParameters;
import io.peft4j.core.train.Trainer;
import io.peft4j.core.train.data.Batch;
import java.util.List;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;

/**
 * The driver's side of a data-parallel step, as the trainer's {@link Trainer.GradientSource}:
 * <ol>
 *   <li>broadcast the current trainable values (the state after the previous optimizer step);</li>
 *   <li>one Spark job over a per-step RDD of {@code workers} partitions, one {@link StepShare} each: every task runs
 *       its micro-batches on its executor's {@link ExecutorReplica};</li>
 *   <li>{@code treeAggregate} sums the partial gradients: Spark counts each partition's result exactly once, so a
 *       retried task cannot add its gradient twice, and nothing is applied before every partition is in;</li>
 *   <li>the sum is written into the driver's parameters' gradients; the trainer then clips, steps AdamW (with the
 *       schedule and parameter groups of the run), runs callbacks, logs and checkpoints exactly as in one process.</li>
 * </ol>
 */
final class SparkGradientSource implements Trainer.GradientSource {
    private final JavaSparkContext jsc;
    private final WorkerSpec spec;
    private final FlatParameters driverParameters;
    private final List<String> layout;
    private final int workers;
    private final SparkTrainOptions options;
    private final ExchangeStats stats;
    private final String runId;

    SparkGradientSource(JavaSparkContext jsc, WorkerSpec spec, FlatParameters driverParameters, int workers,
                        SparkTrainOptions options, ExchangeStats stats, String runId) {
        this.jsc = jsc;
        this.spec = spec;
        this.driverParameters = driverParameters;
        this.layout = driverParameters.names();
        this.workers = workers;
        this.options = options;
        this.stats = stats;
        this.runId = runId;
    }

    @Override
    public double accumulate(int step, List<Batch> window, long countedTokens) {
        if (options.stopBeforeStep() > 0 && step >= options.stopBeforeStep()) {
            throw new SparkTrainOptions.DriverStopped(step);
        }
        long t0 = System.nanoTime();
        float[] values = driverParameters.values();
        Broadcast<AdapterState> state = jsc.broadcast(new AdapterState(runId + "/" + step, layout, values));
        long t1 = System.nanoTime();
        List<StepShare> shares = StepShare.deal(step, window, countedTokens, workers);
        WorkerSpec s = spec;
        SparkTrainOptions.InjectedFailure fail = options.failOnce();
        GradientSum sum;
        try {
            jsc.setJobGroup(stats.jobGroup(), "peft4j step " + step, false);
            sum = jsc.parallelize(shares, workers)
                    .map(share -> ExecutorReplica.compute(s, state.value(), share, fail))
                    .treeAggregate(new GradientSum(), GradientSum::add, GradientSum::merge, 2);
        } finally {
            state.destroy();
        }
        long t2 = System.nanoTime();
        if (sum.partials() != workers) {
            throw new IllegalStateException("step " + step + ": " + sum.partials() + " partial gradients for "
                    + workers + " workers");
        }
        float[] gradient = sum.gradient();
        if (gradient != null) {
            synchronized (ExecutorReplica.LOCK) {   // in local mode the replica shares this JVM's collector flag
                driverParameters.setGradients(gradient, sum.defined());
            }
        }
        long t3 = System.nanoTime();
        stats.recordStep(t0, t1 - t0, t2 - t1, sum.criticalComputeNanos(), t3 - t2,
                4L * values.length * sum.executors(), sum.executors());
        return sum.loss();
    }
}
