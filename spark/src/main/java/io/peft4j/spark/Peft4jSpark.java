package io.peft4j.spark;

import ai.djl.engine.Engine;
import io.peft4j.api.ConfigException;
import io.peft4j.core.config.RunConfig;
import io.peft4j.core.config.RunConfigParser;
import io.peft4j.core.io.AtomicFiles;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.run.RunConfigValidator;
import io.peft4j.core.run.RunPlan;
import io.peft4j.core.run.TuningSession;
import io.peft4j.core.train.FlatParameters;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * Data-parallel adapter training on Apache Spark (docs/spark.md). The driver runs the ordinary trainer on its own
 * session (data order, clipping, AdamW, schedules, LoRA+ groups, eval, metrics, checkpoints, resume, the PEFT-format
 * adapter); only each step's gradients come from the executors ({@link SparkGradientSource}). With the same
 * configuration the result equals a single-process run of it, up to float rounding of the gradient sum.
 */
public final class Peft4jSpark {
    /** File the Dataset variant writes the training rows to, inside {@code output.dir}. */
    public static final String DATASET_FILE = "spark-train.jsonl";

    private Peft4jSpark() {
    }

    /** Trains on the configuration's {@code data.train} file (a JSONL path on the driver). */
    public static SparkRun train(SparkSession spark, RunConfig config, SparkTrainOptions options) {
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        int workers = options.workers() > 0 ? options.workers() : jsc.defaultParallelism();
        Engine.getInstance();
        try (PluginRuntime rt = PluginRuntime.start(options.pluginsDir())) {
            RunPlan plan = RunConfigValidator.validate(config, rt.extensions());
            if (plan.adapters().stream().anyMatch(a -> a.allocator() != null)) {
                throw new ConfigException("adapters", "rank allocators (AdaLoRA) are not supported on Spark yet "
                        + "(not tested under data-parallel training; see docs/spark.md)");
            }
            WorkerSpec spec = WorkerSpec.of(config, options);
            ExchangeStats stats = new ExchangeStats("peft4j-" + UUID.randomUUID());
            try (TuningSession session = TuningSession.open(plan, rt.extensions())) {
                FlatParameters flat = new FlatParameters(session.peft().trainableParameters());
                SparkGradientSource source = new SparkGradientSource(jsc, spec, flat, workers, options, stats,
                        stats.jobGroup());
                spark.sparkContext().addSparkListener(stats);
                long t0 = System.nanoTime();
                TuningSession.Outcome outcome;
                try {
                    outcome = session.train(source);
                    stats.awaitTasks((long) stats.steps() * workers);
                } finally {
                    spark.sparkContext().removeSparkListener(stats);
                }
                double secs = (System.nanoTime() - t0) / 1e9;
                // Rates leave out step 1, in which every executor loads its model replica.
                return new SparkRun(outcome, workers, flat.size(), stats.summary(1), secs);
            }
        }
    }

    /** Trains on a JSONL file ({@code {"text": ...}} or {@code {"prompt": ..., "completion": ...}} per line). */
    public static SparkRun train(SparkSession spark, RunConfig config, String trainPath, SparkTrainOptions options) {
        return train(spark, withTrainData(config, trainPath), options);
    }

    /**
     * Trains on a DataFrame with a {@code text} column, or {@code prompt} and {@code completion} columns. The rows are
     * collected to the driver once (in the Dataset's order) and written to {@code <output.dir>/}{@value #DATASET_FILE}.
     */
    public static SparkRun train(SparkSession spark, RunConfig config, Dataset<Row> data, SparkTrainOptions options) {
        List<String> cols = Arrays.asList(data.columns());
        Dataset<Row> picked;
        if (cols.contains("prompt") && cols.contains("completion")) {
            picked = data.select("prompt", "completion");
        } else if (cols.contains("text")) {
            picked = data.select("text");
        } else {
            throw new ConfigException("data", "the Dataset has columns " + cols + "; expected a \"text\" column or "
                    + "\"prompt\" and \"completion\" columns");
        }
        Path file = Path.of(config.output().dir()).resolve(DATASET_FILE);
        try {
            Files.createDirectories(file.getParent());
            String jsonl = String.join("\n", picked.toJSON().collectAsList()) + "\n";
            AtomicFiles.write(file, jsonl.getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the training rows to " + file + ": " + e.getMessage(), e);
        }
        return train(spark, withTrainData(config, file.toString()), options);
    }

    private static RunConfig withTrainData(RunConfig c, String train) {
        RunConfig.DataSection d = c.data();
        return new RunConfig(c.model(), c.quantization(), c.adapters(), c.optimizer(), c.training(),
                new RunConfig.DataSection(train, d.eval(), d.evalFraction(), d.addEos(), d.addBos(), d.shuffle()),
                c.output(), c.pruning());
    }

    /**
     * spark-submit entry point: {@code CONFIG [--data PATH] [--plugins DIR] [--executor-plugins DIR]
     * [--executor-model DIR] [--workers N]}. {@code --data} is read with Spark ({@code .json}/{@code .jsonl} as JSON
     * lines, anything else as Parquet); without it the configuration's {@code data.train} is used.
     */
    public static void main(String[] args) {
        if (args.length < 1) {
            System.err.println("usage: Peft4jSpark CONFIG [--data PATH] [--plugins DIR] [--executor-plugins DIR] "
                    + "[--executor-model DIR] [--workers N]");
            System.exit(2);
        }
        Path config = Path.of(args[0]);
        String data = null;
        String plugins = "plugins";
        String executorPlugins = null;
        String executorModel = null;
        int workers = 0;
        for (int i = 1; i < args.length; i++) {
            String v = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
                case "--data" -> data = v;
                case "--plugins" -> plugins = v;
                case "--executor-plugins" -> executorPlugins = v;
                case "--executor-model" -> executorModel = v;
                case "--workers" -> workers = Integer.parseInt(v);
                default -> {
                    System.err.println("unknown option " + args[i]);
                    System.exit(2);
                }
            }
            i++;
        }
        RunConfig cfg;
        try {
            cfg = RunConfigParser.parse(config);
        } catch (ConfigException e) {
            System.err.println("configuration error: " + e.getMessage());
            System.exit(2);
            return;
        }
        SparkSession spark = SparkSession.builder().appName("peft4j " + config.getFileName()).getOrCreate();
        try {
            SparkTrainOptions opts = SparkTrainOptions.of(Path.of(plugins), workers)
                    .withExecutorPaths(executorPlugins, executorModel);
            SparkRun run;
            if (data == null) {
                run = train(spark, cfg, opts);
            } else {
                Dataset<Row> rows = data.endsWith(".json") || data.endsWith(".jsonl") ? spark.read().json(data)
                        : spark.read().parquet(data);
                run = train(spark, cfg, rows, opts);
            }
            System.out.println(SparkBench.json(run));
        } finally {
            spark.stop();
        }
    }
}
