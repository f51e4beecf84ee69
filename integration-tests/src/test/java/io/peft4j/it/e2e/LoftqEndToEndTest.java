package io.peft4j.it.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.peft4j.api.ConfigException;
import io.peft4j.api.LowRankSite;
import io.peft4j.core.config.RunConfigParser;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.run.RunConfigValidator;
import io.peft4j.core.run.TuningSession;
import io.peft4j.it.support.Dist;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * LoftQ (plugin {@code loftq}, which depends on the pissa plugin) on the real stories260K with the real NF4
 * quantizer: at initialisation {@code Q(base) + s·B A} is closer to the float32 weight than plain NF4 is, more
 * alternations do not make it worse, and a run without quantization is refused with a message naming the fix.
 */
class LoftqEndToEndTest {
    private static final String MODULE = "model.layers.1.self_attn.q_proj";
    private static PluginRuntime rt;

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() {
        rt = PluginRuntime.start(Dist.pluginsDir());
    }

    @AfterAll
    static void stop() {
        rt.close();
    }

    private TuningSession open(String adapter, String quantization) {
        String yaml = """
                model: {path: "bundled:stories260K"}
                %s
                adapters:
                  - %s
                training: {steps: 1, progress_bar: false}
                data: {train: "bundled:demo/train.jsonl"}
                output: {dir: "%s"}
                """.formatted(quantization, adapter, tmp.resolve("out").toString().replace("\\", "/"));
        return TuningSession.open(RunConfigValidator.validate(RunConfigParser.parse(yaml, true), rt.extensions()),
                rt.extensions());
    }

    /** {@code ||W - (deq(base) + s·B A)||_F} at {@link #MODULE} of a session, against the float32 weight. */
    private static double startError(TuningSession s, float[] original) {
        try (NDManager m = NDManager.newBaseManager()) {
            assertThat(s.model().linear(MODULE).quantized()).isTrue();
            LowRankSite site = (LowRankSite) s.peft().adapter("default").instance().modules().get(MODULE);
            NDArray effective = s.model().linear(MODULE).withWeight(
                    base -> base.add(site.loraB().matMul(site.loraA()).mul((float) site.scaling())));
            effective.attach(m);
            float[] e = effective.toFloatArray();
            double sum = 0;
            for (int i = 0; i < e.length; i++) {
                sum += (e[i] - original[i]) * (double) (e[i] - original[i]);
            }
            return Math.sqrt(sum);
        }
    }

    @Test
    void loftqStartsCloserToTheFloatWeightsThanPlainNf4() {
        float[] original;
        try (TuningSession fp32 = open("{name: default, method: lora, r: 8, lora_alpha: 16, target_modules: all-linear}",
                "")) {
            original = fp32.model().linear(MODULE).rawWeight().toFloatArray();
        }
        String nf4 = "quantization: {method: nf4}";
        double plain;
        try (TuningSession s = open("{name: default, method: lora, r: 8, lora_alpha: 16, target_modules: all-linear}",
                nf4)) {
            plain = startError(s, original);   // B = 0: the error is NF4's own
        }
        double one;
        try (TuningSession s = open("{name: default, method: lora, initializer: loftq, r: 8, lora_alpha: 16, "
                + "target_modules: all-linear}", nf4)) {
            assertThat(s.model().linear(MODULE).quantized()).isTrue();
            one = startError(s, original);
        }
        double five;
        try (TuningSession s = open("{name: default, method: lora, initializer: loftq_iter_5, r: 8, lora_alpha: 16, "
                + "target_modules: all-linear}", nf4)) {
            five = startError(s, original);
            // saved in PEFT's spelling: init_lora_weights "loftq" plus loftq_config
            var attached = s.peft().adapter("default");
            java.util.Map<String, Object> json = io.peft4j.core.peft.AdapterConfigCodec.toPeftJson(attached.method(),
                    attached.instance().config(), null);
            assertThat(json.get("init_lora_weights")).isEqualTo("loftq");
            assertThat(json.get("loftq_config").toString()).contains("loftq_iter=5").contains("loftq_bits=4");
        }
        System.out.printf("LoftQ start error at %s: NF4 %.5f, loftq %.5f, loftq_iter_5 %.5f%n", MODULE, plain, one,
                five);
        assertThat(plain).isPositive();
        assertThat(one).isLessThan(plain * 0.9);
        assertThat(five).isLessThanOrEqualTo(one * 1.0001);
    }

    @Test
    void refusesARunWithoutQuantizationAndBadIterationCounts() {
        assertThatThrownBy(() -> open("{name: default, method: lora, initializer: loftq, r: 4}", "").close())
                .isInstanceOf(ConfigException.class).hasMessageContaining("init_lora_weights")
                .hasMessageContaining("quantization: {method: nf4}");
        assertThatThrownBy(() -> open("{name: default, method: lora, initializer: loftq_iter_0, r: 4}",
                "quantization: {method: nf4}").close())
                .isInstanceOf(ConfigException.class).hasMessageContaining("loftq_config.loftq_iter")
                .hasMessageContaining("expected an integer >= 1");
    }
}
