package io.peft4j.it.e2e;

import static io.peft4j.it.e2e.LoraEndToEndTest.maxAbs;
import static io.peft4j.it.e2e.LoraEndToEndTest.maxAbsDiff;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peft4j.api.ConfigException;
import io.peft4j.api.Initializer;
import io.peft4j.api.SiteInfo;
import io.peft4j.api.SiteKind;
import io.peft4j.core.config.RunConfig;
import io.peft4j.core.config.RunConfigParser;
import io.peft4j.core.model.PlatformForwardContext;
import io.peft4j.core.peft.AdapterFiles;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.run.RunConfigValidator;
import io.peft4j.core.run.RunPlan;
import io.peft4j.core.run.TuningSession;
import io.peft4j.it.support.Dist;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * PiSSA / MiLoRA initializers and the LoRA+ policy end to end on the real stories260K, with the platform started
 * from the distribution's plugins directory only (pissa, milora and loraplus are separate plugin jars; EJML comes
 * from the platform's lib/).
 */
class SvdInitEndToEndTest {
    private static final long[] PROBE = {1, 403, 407, 261, 378, 432, 383, 286, 261};
    private static final String TARGETS = "target_modules: [q_proj, v_proj, down_proj]";
    private static PluginRuntime rt;
    private static float[] original;

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() {
        rt = PluginRuntime.start(Dist.pluginsDir());
        try (TuningSession s = open(config("[]", 1, "{}", "{dir: \"" + "unused" + "\"}"))) {
            original = logits(s);
        }
    }

    @AfterAll
    static void stop() {
        rt.close();
    }

    static RunConfig config(String adaptersYaml, int steps, String optimizer, String output) {
        String yaml = """
                model: {path: "bundled:stories260K"}
                adapters:
                %s
                optimizer: %s
                training: {steps: %d, batch_size: 8, max_seq_len: 80, warmup_steps: 2, log_every: 1, seed: 7,
                           progress_bar: false}
                data: {train: "bundled:demo/train.jsonl", eval: "bundled:demo/eval.jsonl"}
                output: %s
                """.formatted(adaptersYaml.indent(2), optimizer, steps, output);
        return RunConfigParser.parse(yaml, true);
    }

    private static String out(Path dir, boolean convert) {
        return "{dir: \"" + dir.toString().replace("\\", "/") + "\"" + (convert ? ", convert_to_lora: true}" : "}");
    }

    private static TuningSession open(RunConfig cfg) {
        RunPlan plan = RunConfigValidator.validate(cfg, rt.extensions());
        return TuningSession.open(plan, rt.extensions());
    }

    private static float[] logits(TuningSession s) {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray ids = m.create(PROBE).reshape(1, PROBE.length);
            return s.model().forward(ids, null, null, PlatformForwardContext.eval(m)).toFloatArray();
        }
    }

    private static void assertLossFalls(TuningSession.Outcome o, int steps) {
        List<Double> losses = o.training().losses();
        assertThat(losses).hasSize(steps);
        double first = losses.subList(0, 3).stream().mapToDouble(d -> d).average().orElseThrow();
        double last = losses.subList(steps - 3, steps).stream().mapToDouble(d -> d).average().orElseThrow();
        assertThat(last).as("training loss falls: " + losses).isLessThan(first);
        assertThat(o.evalAfter().loss()).isLessThan(o.evalBefore().loss());
    }

    /**
     * Initialisation leaves the model's function unchanged; training lowers the loss; the saved adapter keeps
     * init_lora_weights, and loading it onto the ORIGINAL base re-runs the (deterministic) decomposition and then
     * overwrites A and B, giving identical logits.
     */
    @ParameterizedTest
    @ValueSource(strings = {"pissa", "milora"})
    void trainSaveReload(String init) throws Exception {
        Path run = tmp.resolve(init);
        int steps = 12;
        RunConfig cfg = config("- {name: default, method: lora, initializer: " + init + ", r: 4, lora_alpha: 8, "
                + TARGETS + "}", steps, "{lr: 0.005}", out(run, false));
        float[] trained;
        try (TuningSession s = open(cfg)) {
            float[] atInit = logits(s);
            assertThat(maxAbsDiff(atInit, original)).as("output unchanged at initialisation")
                    .isLessThan(1e-4 * Math.max(1, maxAbs(original)));
            TuningSession.Outcome o = s.train();
            assertLossFalls(o, steps);
            trained = logits(s);
            assertThat(maxAbsDiff(trained, original)).isGreaterThan(1e-3);
        }
        JsonNode saved = new ObjectMapper().readTree(run.resolve("adapter/adapter_config.json").toFile());
        assertThat(saved.get("init_lora_weights").asText()).isEqualTo(init);
        assertThat(saved.get("r").asInt()).isEqualTo(4);

        try (TuningSession s = open(config("[]", 1, "{}", out(tmp.resolve("bare"), false)))) {
            assertThat(logits(s)).containsExactly(original);
            AdapterFiles.load(s.peft(), rt.extensions(), run.resolve("adapter"), "default", 0);
            s.peft().setActive(List.of("default"));
            assertThat(logits(s)).as("reloaded " + init + " adapter on the original base").containsExactly(trained);
        }
    }

    /**
     * Initialisation through the LowRankSite view works for DoRA too (its magnitude is computed afterwards from
     * W_res + s·BA = W), and for the randomized pissa_niter variant: the model's output is unchanged.
     */
    @ParameterizedTest
    @ValueSource(strings = {"dora:pissa", "dora:milora", "lora:pissa_niter_2"})
    void initKeepsTheFunction(String methodAndInit) {
        String[] p = methodAndInit.split(":");
        RunConfig cfg = config("- {name: default, method: " + p[0] + ", initializer: " + p[1] + ", r: 4, "
                + "lora_alpha: 8, " + TARGETS + "}", 1, "{}", out(tmp.resolve("init"), false));
        try (TuningSession s = open(cfg)) {
            assertThat(maxAbsDiff(logits(s), original)).as(methodAndInit + ": output unchanged at initialisation")
                    .isLessThan(1e-4 * Math.max(1, maxAbs(original)));
            s.peft().setActive(List.of());
            assertThat(maxAbsDiff(logits(s), original)).as(methodAndInit + ": the base now holds the residual")
                    .isGreaterThan(1e-3);
        }
    }

    /**
     * output.convert_to_lora: the saved adapter is plain LoRA of rank 2r for the ORIGINAL weights; on the original
     * base it reproduces the PiSSA-trained model (residual base + trained adapter) within 1e-4.
     */
    @Test
    void convertToLoraAppliesToTheOriginalBase() throws Exception {
        convertTrainAndReload("convert", "r: 4, lora_alpha: 8, " + TARGETS, 8, 16.0);
    }

    /**
     * Ranks above min(in, out) = 32 of k_proj [32 x 64], accepted as in PEFT: r 20 converts to rank 40 (PEFT's
     * conversion works there too); exact PiSSA with r 40 has factors sliced at 32 rows (PEFT's shapes), and its
     * conversion pads them to the rank 80 its config states (PEFT 0.14 cannot convert that one: loading its initial
     * adapter fails on the shapes).
     */
    @Test
    void convertToLoraWithRanksAboveMinInOut() throws Exception {
        convertTrainAndReload("convert_2r", "r: 20, lora_alpha: 20, target_modules: [k_proj]", 40, 40.0);
        convertTrainAndReload("convert_r", "r: 40, lora_alpha: 40, target_modules: [k_proj]", 80, 80.0);
    }

    private void convertTrainAndReload(String name, String options, int convertedR, double convertedAlpha)
            throws Exception {
        Path run = tmp.resolve(name);
        int steps = 8;
        RunConfig cfg = config("- {name: default, method: lora, initializer: pissa, " + options + "}", steps,
                "{lr: 0.005}", out(run, true));
        float[] trained;
        try (TuningSession s = open(cfg)) {
            TuningSession.Outcome o = s.train();
            assertLossFalls(o, steps);
            trained = logits(s);
            assertThat(maxAbsDiff(trained, original)).as("training changed the model").isGreaterThan(1e-3);
        }
        JsonNode saved = new ObjectMapper().readTree(run.resolve("adapter/adapter_config.json").toFile());
        assertThat(saved.get("init_lora_weights").asBoolean()).isTrue();
        assertThat(saved.get("r").asInt()).isEqualTo(convertedR);
        assertThat(saved.get("lora_alpha").asDouble()).isEqualTo(convertedAlpha);
        try (TuningSession s = open(config("[]", 1, "{}", out(tmp.resolve(name + "_bare"), false)))) {
            AdapterFiles.load(s.peft(), rt.extensions(), run.resolve("adapter"), "default", 0);
            s.peft().setActive(List.of("default"));
            float[] converted = logits(s);
            System.out.println(name + ": max |logit difference| = " + maxAbsDiff(converted, trained));
            assertThat(maxAbsDiff(converted, trained)).as(name + ": converted LoRA on the original base vs "
                    + "PiSSA-trained").isLessThan(1e-4);
        }
    }

    @Test
    void loraPlusTrains() {
        int steps = 12;
        RunConfig cfg = config("- {name: default, method: lora, r: 4, lora_alpha: 8, " + TARGETS + "}", steps,
                "{lr: 0.002, policy: {id: loraplus, loraplus_lr_ratio: 8}}", out(tmp.resolve("lp"), false));
        try (TuningSession s = open(cfg)) {
            assertLossFalls(s.train(), steps);
        }
    }

    @Test
    void loraPlusRejectsBadOptionsWhenTheConfigIsValidated() {
        // Before any tensor exists: RunConfigValidator asks the policy to check its options.
        RunConfig cfg = config("- {name: default, method: lora, r: 4}", 2,
                "{policy: {id: loraplus, loraplus_lr_ratio: 0}}", out(tmp.resolve("lp0"), false));
        assertThatThrownBy(() -> RunConfigValidator.validate(cfg, rt.extensions()))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("optimizer.policy.loraplus_lr_ratio").hasMessageContaining("must be > 0");
        RunConfig typo = config("- {name: default, method: lora, r: 4}", 2,
                "{policy: {id: loraplus, loraplus_ratio: 4}}", out(tmp.resolve("lp1"), false));
        assertThatThrownBy(() -> RunConfigValidator.validate(typo, rt.extensions()))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("optimizer.policy.loraplus_ratio").hasMessageContaining("loraplus_lr_ratio");
    }

    @Test
    void configurationErrors() {
        // pissa_niter_N with r larger than min(in, out) of k_proj [32 x 64]: rejected when the adapter is created,
        // before any training (PEFT's torch.svd_lowrank fails there); exact PiSSA accepts it and slices its factors
        // at 32, as PEFT does.
        assertThatThrownBy(() -> open(config("- {method: lora, initializer: pissa_niter_2, r: 40, "
                + "target_modules: [k_proj]}", 1, "{}", out(tmp, false))).close())
                .isInstanceOf(ConfigException.class).hasMessageContaining("min(in, out) = 32")
                .hasMessageContaining("model.layers.0.self_attn.k_proj");
        RunConfigValidator.validate(config("- {method: lora, initializer: pissa, r: 40, target_modules: [k_proj]}", 1,
                "{}", out(tmp, false)), rt.extensions());
        // ... and the initializer's own check names the module and its shape.
        Initializer pissa = rt.extensions().initializerFor("pissa").orElseThrow();
        SiteInfo kProj = new SiteInfo("model.layers.0.self_attn.k_proj", SiteKind.LINEAR, 64, 32, 0, false);
        assertThatThrownBy(() -> pissa.validate("pissa_niter_2", kProj, 40)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("model.layers.0.self_attn.k_proj").hasMessageContaining("out=32, in=64");
        assertThat(pissa.factorRank("pissa", kProj, 40)).isEqualTo(32);
        // A malformed niter suffix names init_lora_weights.
        assertThatThrownBy(() -> open(config("- {method: lora, initializer: pissa_niter_x}", 1, "{}",
                out(tmp, false))).close()).isInstanceOf(ConfigException.class)
                .hasMessageContaining("init_lora_weights").hasMessageContaining("pissa_niter_x");
        // VeRA has no low-rank factors to initialise.
        assertThatThrownBy(() -> RunConfigValidator.validate(config("- {method: vera, initializer: pissa}", 1, "{}",
                out(tmp, false)), rt.extensions())).isInstanceOf(ConfigException.class)
                .hasMessageContaining("adapters[0].initializer").hasMessageContaining("vera");
        // Nothing to convert.
        assertThatThrownBy(() -> RunConfigValidator.validate(config("- {method: lora}", 1, "{}", out(tmp, true)),
                rt.extensions())).isInstanceOf(ConfigException.class)
                .hasMessageContaining("output.convert_to_lora");
    }
}
