package io.peft4j.spark;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.peft4j.bench.BenchShape;
import io.peft4j.core.config.RunConfig;
import io.peft4j.core.config.RunConfigParser;
import io.peft4j.core.model.BundledModel;
import io.peft4j.core.model.LlamaModel;
import io.peft4j.core.run.MergedExport;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.SparkSession;

/**
 * Benchmark of data-parallel steps: for each worker count, a fresh Spark application trains LoRA (r=8, all linear
 * layers) for a few steps and prints one JSON line: steps/s, the share of step time spent in the gradient exchange
 * (broadcast of the adapter state, task scheduling and result transfer, summing, writing the gradients: everything
 * but forward/backward on the critical path), and the bytes moved per step.
 *
 * <pre>
 * SparkBench --plugins DIR [--shape small|tiny] [--workers 1,2] [--steps N] [--master local-cluster]
 *            [--spark-home DIR] [--out DIR]
 * </pre>
 * {@code --master local-cluster} starts one executor JVM per worker ({@code local-cluster[W,1,2048]}, needs a
 * directory of Spark jars as {@code --spark-home}, see docs/spark.md); {@code local} runs the workers as threads of
 * this JVM ({@code local[W]}), which take turns on the one model replica.
 */
public final class SparkBench {
    private static final ObjectMapper JSON = new ObjectMapper();

    private SparkBench() {
    }

    public static void main(String[] args) throws IOException {
        // Rates leave out the first step (model replicas load) and the last (its end is not a step start).
        Map<String, String> o = new LinkedHashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            o.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        }
        // Absolute: executors resolve relative paths against their own working directories.
        Path plugins = Path.of(require(o, "plugins")).toAbsolutePath();
        String shape = o.getOrDefault("shape", "small");
        int steps = Integer.parseInt(o.getOrDefault("steps", "8"));
        String master = o.getOrDefault("master", "local");
        Path out = Path.of(o.getOrDefault("out", "target/spark-bench")).toAbsolutePath();
        Files.createDirectories(out);
        Path model = modelDir(shape, out);
        Path data = out.resolve("train.jsonl");
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
            lines.add("{\"text\": \"Once upon a time, there was a little " + (i % 2 == 0 ? "girl" : "boy")
                    + " who liked to play in the park with a red ball number " + i + ". One day it rained.\"}");
        }
        Files.write(data, lines);
        for (String w : o.getOrDefault("workers", "1,2").split(",")) {
            int workers = Integer.parseInt(w.trim());
            SparkSession.Builder b = SparkSession.builder().appName("peft4j bench " + workers)
                    .config("spark.ui.enabled", "false");
            if (master.equals("local-cluster")) {
                String sparkHome = require(o, "spark-home");
                b.master("local-cluster[" + workers + ",1,2048]")
                        .config("spark.home", sparkHome)
                        .config("spark.executor.extraClassPath", directoriesOfClassPath())
                        .config("spark.executor.extraJavaOptions", "-Dai.djl.offline=true "
                                + "-Dai.djl.pytorch.num_threads=1 -Dai.djl.pytorch.num_interop_threads=1");
            } else {
                b.master("local[" + workers + "]");
            }
            SparkSession spark = b.getOrCreate();
            try {
                Map<String, Object> row = run(spark, plugins, model, data, out.resolve("w" + workers), workers,
                        steps);
                row.put("shape", shape);
                row.put("master", spark.sparkContext().master());
                System.out.println(JSON.writeValueAsString(row));
            } finally {
                spark.stop();
            }
        }
    }

    private static Map<String, Object> run(SparkSession spark, Path plugins, Path model, Path data, Path out,
                                           int workers, int steps) {
        // Global batch: 2 micro-batches of 4 rows x 128 tokens per worker count of 2, the same for every run.
        String yaml = "model: {path: '" + model + "'}\n"
                + "adapters: [{method: lora, r: 8, lora_alpha: 16, target_modules: all-linear}]\n"
                + "optimizer: {lr: 0.001}\n"
                + "training: {steps: " + steps + ", batch_size: 4, grad_accumulation: 2, max_seq_len: 128,"
                + " schedule: constant, log_every: 1000, progress_bar: false, seed: 1}\n"
                + "data: {train: '" + data + "', eval_fraction: 0.05, shuffle: true}\n"
                + "output: {dir: '" + out + "'}\n";
        RunConfig cfg = RunConfigParser.parse(yaml, true);
        SparkRun r = Peft4jSpark.train(spark, cfg, SparkTrainOptions.of(plugins, workers));
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("workers", workers);
        row.put("trainable_elements", r.trainableElements());
        row.put("expected_gradient_bytes_per_step", 4L * r.trainableElements() * workers);
        row.putAll(r.exchange());
        return row;
    }

    /** The JSON line printed by {@link Peft4jSpark#main}. */
    static String json(SparkRun run) {
        ObjectNode n = JSON.createObjectNode();
        n.put("workers", run.workers());
        n.put("trainable_elements", run.trainableElements());
        n.put("train_seconds", run.trainSeconds());
        n.put("eval_loss_before", run.outcome().evalBefore() == null ? null : run.outcome().evalBefore().loss());
        n.put("eval_loss_after", run.outcome().evalAfter() == null ? null : run.outcome().evalAfter().loss());
        n.put("adapter", run.outcome().adapterDir().toString());
        n.set("exchange", JSON.valueToTree(run.exchange()));
        return n.toString();
    }

    /** stories260K for {@code stories260K}; else a random-weight model of the bench shape (its tokenizer). */
    private static Path modelDir(String shape, Path out) throws IOException {
        Path bundled = BundledModel.stories260K();
        if (shape.equalsIgnoreCase("stories260K")) {
            return bundled;
        }
        BenchShape s = BenchShape.parse(shape);
        Path dir = out.resolve("model-" + s.id());
        if (Files.isRegularFile(dir.resolve("model.safetensors"))) {
            return dir;
        }
        Path src = out.resolve("model-src-" + s.id());
        Files.createDirectories(src);
        ObjectNode c = (ObjectNode) JSON.readTree(bundled.resolve("config.json").toFile());
        c.put("hidden_size", s.dim).put("intermediate_size", s.hidden).put("num_attention_heads", s.heads)
                .put("num_key_value_heads", s.kvHeads).put("head_dim", s.dim / s.heads).put("num_hidden_layers", s.layers).put("vocab_size", s.vocab)
                .put("max_position_embeddings", 2048).put("tie_word_embeddings", false);
        Files.writeString(src.resolve("config.json"), c.toString());
        Files.copy(bundled.resolve("tokenizer.json"), src.resolve("tokenizer.json"));
        Engine.getInstance();
        try (NDManager m = NDManager.newBaseManager(); LlamaModel model = LlamaModel.random(s.config(), m, 1, 0.02)) {
            MergedExport.write(model, src, dir);
        }
        return dir;
    }

    /** Class directories (not jars) of this JVM's class path: the jars come from the Spark home's jars/. */
    private static String directoriesOfClassPath() {
        List<String> dirs = new ArrayList<>();
        for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
            if (Files.isDirectory(Path.of(e))) {
                dirs.add(Path.of(e).toAbsolutePath().toString());
            }
        }
        return String.join(File.pathSeparator, dirs);
    }

    private static String require(Map<String, String> o, String key) {
        String v = o.get(key);
        if (v == null) {
            throw new IllegalArgumentException("missing option --" + key);
        }
        return v;
    }
}
