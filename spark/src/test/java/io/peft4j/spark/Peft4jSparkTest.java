package io.peft4j.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peft4j.core.config.RunConfig;
import io.peft4j.core.config.RunConfigParser;
import io.peft4j.core.io.SafetensorsReader;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.run.RunConfigValidator;
import io.peft4j.core.run.TuningSession;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Data-parallel training in Spark local mode ({@code local[2,2]}: two task threads, a task may be attempted twice)
 * on the real stories260K with the real LoRA and LoRA+ plugin jars, compared with the single-process trainer.
 */
class Peft4jSparkTest {
    private static final Path PLUGINS = Path.of(System.getProperty("peft4j.test.plugins.dir", "target/test-plugins"));
    private static final int STEPS = 20;
    private static SparkSession spark;

    @TempDir
    static Path dir;
    private static Path train;
    private static Path eval;
    /** The 2-worker run's adapter, computed once and shared by the tests that compare against it. */
    private static Map<String, float[]> twoWorkers;
    private static SparkRun twoWorkersRun;

    @BeforeAll
    static void start() throws IOException {
        train = dir.resolve("train.jsonl");
        eval = dir.resolve("eval.jsonl");
        Files.write(train, bundledLines("train.jsonl", 48));
        Files.write(eval, bundledLines("eval.jsonl", 8));
        spark = SparkSession.builder().master("local[2,2]").appName("peft4j-test")
                .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1").config("spark.sql.shuffle.partitions", "2")
                .getOrCreate();
    }

    @AfterAll
    static void stop() {
        if (spark != null) {
            spark.stop();
        }
    }

    /**
     * Dropout on, clipping on (max_grad_norm 0.5), cosine with warmup, LoRA+ (two parameter groups), 4
     * micro-batches of 2 rows per step: two per worker, so each worker's partial sum and the driver's sum of the
     * partials round differently from one process's running sum.
     */
    private static RunConfig config(String out, int steps, boolean resume) {
        String yaml = "model: {path: 'bundled:stories260K'}\n"
                + "adapters: [{method: lora, r: 4, lora_alpha: 8, lora_dropout: 0.1, target_modules: [q_proj, v_proj, "
                + "down_proj]}]\n"
                + "optimizer: {lr: 0.004, weight_decay: 0.01, max_grad_norm: 0.5, "
                + "policy: {id: loraplus, loraplus_lr_ratio: 4}}\n"
                + "training: {steps: " + steps + ", batch_size: 2, grad_accumulation: 4, max_seq_len: 48, "
                + "schedule: cosine, warmup_steps: 3, checkpoint_every: 5, keep_checkpoints: 2, log_every: 5, "
                + "seed: 7, progress_bar: false, resume: " + resume + "}\n"
                + "data: {train: '" + train + "', eval: '" + eval + "', shuffle: true}\n"
                + "output: {dir: '" + dir.resolve(out) + "'}\n";
        return RunConfigParser.parse(yaml, true);
    }

    private static synchronized Map<String, float[]> twoWorkerAdapter() throws IOException {
        if (twoWorkers == null) {
            Dataset<Row> rows = spark.read().json(train.toString());
            twoWorkersRun = Peft4jSpark.train(spark, config("spark2", STEPS, false), rows,
                    SparkTrainOptions.of(PLUGINS, 2));
            twoWorkers = adapter(twoWorkersRun.outcome().adapterDir());
        }
        return twoWorkers;
    }

    @Test
    void twoWorkersGiveTheAdapterOfOneProcessWithGradientAccumulation() throws IOException {
        Map<String, float[]> reference;
        Map<String, float[]> initial;
        try (PluginRuntime rt = PluginRuntime.start(PLUGINS)) {
            RunConfig cfg = config("single", STEPS, false);
            try (TuningSession s = TuningSession.open(RunConfigValidator.validate(cfg, rt.extensions()),
                    rt.extensions())) {
                s.saveAdapters(dir.resolve("initial"));
                initial = adapter(dir.resolve("initial"));
                reference = adapter(s.train().adapterDir());
            }
        }
        Map<String, float[]> dp = twoWorkerAdapter();
        assertThat(dp.keySet()).isEqualTo(reference.keySet()).contains(
                "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
                "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight");
        double diff = maxAbsDiff(reference, dp);
        System.out.println("max |single - 2 workers| after " + STEPS + " steps: " + diff);
        assertThat(diff).isLessThanOrEqualTo(1e-5);
        assertThat(maxAbsDiff(initial, reference)).as("training moved the adapter").isGreaterThan(1e-3);
        assertThat(twoWorkersRun.outcome().evalAfter().loss()).isLessThan(twoWorkersRun.outcome().evalBefore().loss());
        // Clipping really acted: some logged pre-clip global norm is above max_grad_norm.
        double maxNorm = 0;
        for (String line : Files.readAllLines(dir.resolve("spark2/metrics.jsonl"))) {
            JsonNode n = new ObjectMapper().readTree(line);
            if (n.has("grad_norm")) {
                maxNorm = Math.max(maxNorm, n.get("grad_norm").asDouble());
            }
        }
        assertThat(maxNorm).isGreaterThan(0.5);

        // One float32 gradient per worker crossed to the driver per step (plus Spark's small task-result overhead).
        double perStep = ((Number) twoWorkersRun.exchange().get("gradient_bytes_per_step")).doubleValue();
        long expected = 4L * twoWorkersRun.trainableElements() * 2;
        System.out.println("gradient bytes per step: " + perStep + " (4 x " + twoWorkersRun.trainableElements()
                + " x 2 workers = " + expected + ")");
        assertThat(perStep).isBetween((double) expected, expected * 1.25);
        assertThat(twoWorkersRun.exchange().get("steps")).isEqualTo(STEPS);
    }

    @Test
    void aTaskThatFailsHalfWayIsRetriedWithoutCorruptingTheStep() throws IOException {
        Map<String, float[]> expected = twoWorkerAdapter();
        // Partition 1 fails at step 7 after its first micro-batch's backward has already added to its gradients.
        SparkRun run = Peft4jSpark.train(spark, config("retry", STEPS, false), train.toString(),
                SparkTrainOptions.of(PLUGINS, 2).withFailOnce(7, 1));
        assertThat(((Number) run.exchange().get("failed_task_attempts")).longValue()).isGreaterThanOrEqualTo(1);
        assertThat(maxAbsDiff(expected, adapter(run.outcome().adapterDir()))).isEqualTo(0.0);
    }

    @Test
    void aStoppedDriverResumesFromTheLastCheckpointToTheSameAdapter() throws IOException {
        Map<String, float[]> expected = twoWorkerAdapter();
        assertThatThrownBy(() -> Peft4jSpark.train(spark, config("resume", STEPS, false), train.toString(),
                SparkTrainOptions.of(PLUGINS, 2).withStopBeforeStep(13)))
                .isInstanceOf(SparkTrainOptions.DriverStopped.class);
        assertThat(dir.resolve("resume/checkpoints")).isDirectory();
        SparkRun resumed = Peft4jSpark.train(spark, config("resume", STEPS, true), train.toString(),
                SparkTrainOptions.of(PLUGINS, 2));
        assertThat(resumed.outcome().training().firstStep()).isEqualTo(11);   // checkpoint of step 10
        assertThat(maxAbsDiff(expected, adapter(resumed.outcome().adapterDir()))).isEqualTo(0.0);
    }

    @Test
    void aDatasetWithoutTextColumnsIsRefusedNamingTheColumns() {
        Dataset<Row> rows = spark.sql("SELECT 1 AS id, 'x' AS body");
        assertThatThrownBy(() -> Peft4jSpark.train(spark, config("bad", 2, false), rows,
                SparkTrainOptions.of(PLUGINS, 2)))
                .hasMessageContaining("[id, body]").hasMessageContaining("\"text\"");
    }

    private static Map<String, float[]> adapter(Path adapterDir) {
        Map<String, float[]> out = new LinkedHashMap<>();
        try (NDManager m = NDManager.newBaseManager();
             SafetensorsReader r = SafetensorsReader.open(adapterDir.resolve("adapter_model.safetensors"))) {
            for (String name : r.names()) {
                try (NDArray a = r.readCopy(name, m)) {
                    out.put(name, a.toFloatArray());
                }
            }
        }
        assertThat(adapterDir.resolve("adapter_config.json")).isRegularFile();
        return out;
    }

    private static double maxAbsDiff(Map<String, float[]> a, Map<String, float[]> b) {
        assertThat(b.keySet()).isEqualTo(a.keySet());
        double max = 0;
        for (Map.Entry<String, float[]> e : a.entrySet()) {
            float[] x = e.getValue();
            float[] y = b.get(e.getKey());
            assertThat(y).hasSize(x.length);
            for (int i = 0; i < x.length; i++) {
                max = Math.max(max, Math.abs(x[i] - y[i]));
            }
        }
        return max;
    }

    private static List<String> bundledLines(String name, int n) throws IOException {
        try (InputStream in = Peft4jSparkTest.class.getClassLoader()
                .getResourceAsStream("io/peft4j/bundled/demo/" + name)) {
            List<String> lines = new ArrayList<>(new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList());
            return lines.subList(0, Math.min(n, lines.size()));
        }
    }
}
