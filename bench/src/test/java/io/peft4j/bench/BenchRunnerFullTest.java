package io.peft4j.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The bench engine end to end without plugins: full fine-tuning of the tiny random shape, 1 warm-up + 1 step, in
 * this JVM. Checks the record structure and the FLOP model, not the speed.
 */
class BenchRunnerFullTest {

    @Test
    void fullModeTinyPrintsEnvAndAFiniteConfigRecord() {
        BenchOptions o = BenchOptions.builder().add(BenchShape.TINY, BenchMode.FULL, null).warmup(1).steps(1)
                .batch(2).seq(32).fork(false).build();
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        BenchRunner.run(o, new PrintStream(buf, true, StandardCharsets.UTF_8));
        List<Map<String, Object>> recs = buf.toString(StandardCharsets.UTF_8).lines().map(Json::parse).toList();

        assertThat(recs).hasSize(2);
        Map<String, Object> env = recs.get(0);
        assertThat(env.get("kind")).isEqualTo("env");
        assertThat(env.get("threads")).isEqualTo(2);
        assertFinitePositive(env, "matmul_1024_gflops", "matmul_2048_gflops");

        Map<String, Object> c = recs.get(1);
        assertThat(c.get("kind")).isEqualTo("config");
        assertThat(c.get("mode")).isEqualTo("full");
        assertFinitePositive(c, "train_step_s_median", "train_tokens_per_s", "fwd_tokens_per_s",
                "train_mfu_vs_mm2048", "fwd_mfu_vs_mm2048", "rss_peak_mib", "loss_first", "loss_last",
                "train_fwd_bwd_s_median", "train_opt_s_median");
        assertThat(((Number) c.get("foreign_cpu_frac")).doubleValue()).isBetween(0.0, 1.0);

        BenchShape t = BenchShape.TINY;
        long hd = t.dim / t.heads;
        long perLayer = (long) t.dim * t.dim * 2 + 2L * t.dim * t.kvHeads * hd + 3L * t.dim * t.hidden;
        long linear = perLayer * t.layers + (long) t.vocab * t.dim;
        assertThat(((Number) c.get("n_params_linear")).longValue()).isEqualTo(linear);
        assertThat(((Number) c.get("n_params_lora")).longValue()).isZero();
        long total = linear + (long) t.vocab * t.dim + (2L * t.layers + 1) * t.dim;
        assertThat(((Number) c.get("n_params_trainable")).longValue()).isEqualTo(total);
        long tok = 2 * 32;
        double attn = 4.0 * 2 * 32 * 32 * t.dim * t.layers;
        assertThat(((Number) c.get("train_flops")).doubleValue()).isEqualTo(6.0 * linear * tok + 3 * attn);
        // random init: the loss starts near ln(vocab); the shifted CE is finite
        assertThat(((Number) c.get("loss_first")).doubleValue()).isCloseTo(Math.log(t.vocab),
                org.assertj.core.data.Offset.offset(0.5));
    }

    static void assertFinitePositive(Map<String, Object> rec, String... keys) {
        for (String k : keys) {
            assertThat(rec).containsKey(k);
            double v = ((Number) rec.get(k)).doubleValue();
            assertThat(Double.isFinite(v) && v > 0).as(k + " = " + v).isTrue();
        }
    }
}
