package io.peft4j.it.bench;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.peft4j.bench.BenchCase;
import io.peft4j.bench.BenchMode;
import io.peft4j.bench.BenchOptions;
import io.peft4j.bench.BenchRunner;
import io.peft4j.bench.BenchShape;
import io.peft4j.core.model.BundledModel;
import io.peft4j.it.support.Dist;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * {@code peft4j bench} with LoRA from the distribution's plugins directory: the LoRA, merge and RSS modes on the
 * tiny random shape and LoRA on the bundled stories260K, each with 1 warm-up + 1 step on a small batch, in one JVM.
 * Checks that the records have the peer's fields with finite values; no timing assertions.
 */
class BenchLoraTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void loraMergeAndRssRecordsAreComplete() throws Exception {
        BenchOptions o = BenchOptions.builder()
                .add(BenchShape.TINY, BenchMode.LORA, "qv")
                .add(BenchShape.TINY, BenchMode.MERGE, "all")
                .add(new BenchCase(null, BundledModel.stories260K(), BenchMode.LORA, "all"))
                .add(BenchShape.TINY, BenchMode.RSS, "all")
                .pluginsDir(Dist.pluginsDir()).warmup(1).steps(1).batch(2).seq(32).rssSteps(4).rssEvery(2)
                .fork(false).build();
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        BenchRunner.run(o, new PrintStream(buf, true, StandardCharsets.UTF_8));
        List<Map<String, Object>> recs = buf.toString(StandardCharsets.UTF_8).lines().map(BenchLoraTest::parse)
                .toList();
        // Progress records (rss samples; for a model directory the load record and one record per train step)
        // come between the result records.
        Set<String> progress = Set.of("rss_sample", "load", "train_step");
        List<Map<String, Object>> configs = recs.stream().filter(r -> !progress.contains(r.get("kind"))).toList();
        List<Map<String, Object>> load = recs.stream().filter(r -> "load".equals(r.get("kind"))).toList();
        assertThat(load).hasSize(1);
        assertThat((String) load.get(0).get("size")).startsWith("model:");
        assertFinitePositive(load.get(0), "load_s", "rss_peak_mib_after_load");
        assertThat(recs.stream().filter(r -> "train_step".equals(r.get("kind")))).hasSize(2);   // warmup + step
        assertThat(configs).extracting(r -> r.get("kind")).containsExactly("env", "config", "config", "config",
                "config");

        BenchShape t = BenchShape.TINY;
        long hd = t.dim / t.heads;
        Map<String, Object> qv = configs.get(1);
        assertFinitePositive(qv, "train_step_s_median", "train_tokens_per_s", "fwd_tokens_per_s",
                "train_mfu_vs_mm2048", "fwd_mfu_vs_mm2048", "rss_peak_mib", "loss_first", "loss_last");
        long loraQv = t.layers * (8L * (t.dim + t.heads * hd) + 8L * (t.dim + t.kvHeads * hd));
        assertThat(number(qv, "n_params_lora")).isEqualTo(loraQv);
        assertThat(number(qv, "n_params_trainable")).isEqualTo(loraQv);

        Map<String, Object> merge = configs.get(2);
        assertFinitePositive(merge, "fwd_base_s_median", "fwd_unmerged_s_median", "fwd_merged_s_median",
                "merged_speedup", "merged_vs_base_time_ratio", "unmerged_vs_base_time_ratio");
        double diff = ((Number) merge.get("merged_vs_unmerged_max_abs_diff")).doubleValue();
        assertThat(diff).isFinite().isLessThan(1e-3);

        Map<String, Object> real = configs.get(3);
        assertThat((String) real.get("size")).startsWith("model:");
        assertThat(real.get("tied_embeddings")).isEqualTo(true);
        assertFinitePositive(real, "train_tokens_per_s", "loss_first", "loss_last", "load_s",
                "rss_peak_mib_after_load", "rss_peak_mib");

        Map<String, Object> rss = configs.get(4);
        assertThat(rss.get("mode")).isEqualTo("rss");
        assertFinitePositive(rss, "rss_mib_at_reference", "rss_mib_end", "train_step_s_median");
        assertThat(((Number) rss.get("rss_rel_change_from_reference")).doubleValue()).isFinite();
        assertThat(recs.stream().filter(r -> "rss_sample".equals(r.get("kind")))).isNotEmpty();
    }

    /**
     * {@code --quant nf4 --quant-eval N}: after the NF4 case, the demo task's LoRA run trains on the float32 and on
     * the NF4 base and the record carries both eval losses and their relative difference.
     */
    @Test
    void quantEvalRecordComparesFp32AndNf4EvalLoss() throws Exception {
        BenchOptions o = BenchOptions.builder().add(BenchShape.TINY, BenchMode.LORA, "qv").baseQuant("nf4")
                .quantEvalSteps(3).pluginsDir(Dist.pluginsDir()).warmup(1).steps(1).batch(2).seq(32).fork(false)
                .build();
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        BenchRunner.run(o, new PrintStream(buf, true, StandardCharsets.UTF_8));
        List<Map<String, Object>> recs = buf.toString(StandardCharsets.UTF_8).lines().map(BenchLoraTest::parse)
                .toList();
        Map<String, Object> q = recs.get(recs.size() - 1);
        assertThat(q.get("kind")).isEqualTo("quant_eval_loss");
        assertThat(q).doesNotContainKey("error");
        assertThat(q.get("quant")).isEqualTo("nf4");
        assertFinitePositive(q, "eval_loss_fp32", "eval_loss_quant", "eval_loss_before_fp32", "eval_loss_before_quant");
        // NF4 rounding moves the untrained model's loss: the two runs really used different bases
        assertThat(((Number) q.get("eval_loss_before_quant")).doubleValue())
                .isNotEqualTo(((Number) q.get("eval_loss_before_fp32")).doubleValue());
        double rel = ((Number) q.get("rel_diff")).doubleValue();
        assertThat(rel).isCloseTo(((Number) q.get("eval_loss_quant")).doubleValue()
                / ((Number) q.get("eval_loss_fp32")).doubleValue() - 1, org.assertj.core.data.Offset.offset(1e-3));
        assertThat(q.get("within_target")).isEqualTo(Math.abs(rel) <= 0.02);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> parse(String line) {
        try {
            return JSON.readValue(line, Map.class);
        } catch (Exception e) {
            throw new AssertionError("not JSON: " + line, e);
        }
    }

    private static long number(Map<String, Object> rec, String key) {
        return ((Number) rec.get(key)).longValue();
    }

    private static void assertFinitePositive(Map<String, Object> rec, String... keys) {
        for (String k : keys) {
            assertThat(rec).as(rec.get("size") + "/" + rec.get("mode")).containsKey(k);
            double v = ((Number) rec.get(k)).doubleValue();
            assertThat(Double.isFinite(v) && v > 0).as(k + " = " + v).isTrue();
        }
    }
}
