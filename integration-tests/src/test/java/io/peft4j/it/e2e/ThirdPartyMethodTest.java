package io.peft4j.it.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.peft4j.core.config.RunConfig;
import io.peft4j.core.config.RunConfigParser;
import io.peft4j.core.model.AdaptableLinear;
import io.peft4j.core.model.PlatformForwardContext;
import io.peft4j.core.peft.AdapterFiles;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.run.RunConfigValidator;
import io.peft4j.core.run.RunPlan;
import io.peft4j.core.run.TuningSession;
import io.peft4j.it.support.Dist;
import io.peft4j.it.support.Runs;
import io.peft4j.it.support.ThirdPartyPluginBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The SPI is enough for a method peft4j does not ship: IA3, written in integration-tests/src/third-party-ia3 against
 * platform-api only, compiled and packed as a plugin jar here, dropped into a plugins directory beside the shipped
 * plugins, then trained on stories260K, saved in PEFT's IA3 format and reloaded to identical logits.
 */
class ThirdPartyMethodTest {
    private static final long[] PROBE = {1, 403, 407, 261, 378, 432, 383};

    @TempDir
    Path tmp;

    private static float[] logits(TuningSession s) {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray ids = m.create(PROBE).reshape(1, PROBE.length);
            return s.model().forward(ids, null, null, PlatformForwardContext.eval(m)).toFloatArray();
        }
    }

    /** The shipped plugin jars plus the IA3 example compiled and packed as a third party would. */
    private Path pluginsWithIa3() throws Exception {
        Path plugins = tmp.resolve("plugins");
        Files.createDirectories(plugins);
        try (Stream<Path> jars = Files.list(Dist.pluginsDir())) {
            for (Path j : jars.toList()) {
                Files.copy(j, plugins.resolve(j.getFileName()));
            }
        }
        Path src = Path.of(System.getProperty("peft4j.repo.root"), "integration-tests/src/third-party-ia3/java");
        ThirdPartyPluginBuilder.build(src, Map.of("Plugin-Id", "ia3-example", "Plugin-Version", "1.0.0",
                "Plugin-Requires", ">=0.1.0", "Plugin-Provider", "example.org"), plugins.resolve("ia3-example.jar"));
        return plugins;
    }

    /**
     * On an NF4 base the IA3 example reads W only through leases (LinearBase.weight / withWeight): deltaWeight,
     * merge and unmerge leave no lease open, so each dequantized copy was freed when its lease closed (not merely
     * with the merge operation's temporaries).
     */
    @Test
    void ia3OnAnNf4BaseClosesEveryWeightLease() throws Exception {
        Path plugins = pluginsWithIa3();
        String yaml = """
                model: {path: "bundled:stories260K"}
                adapters:
                  - {name: default, method: ia3, target_modules: [k_proj, v_proj, down_proj], \
                feedforward_modules: [down_proj]}
                quantization: {method: nf4}
                training: {steps: 1, batch_size: 2, max_seq_len: 16, progress_bar: false}
                data: {train: "bundled:demo/train.jsonl"}
                output: {dir: "%s"}
                """.formatted(tmp.resolve("nf4").toString().replace("\\", "/"));
        try (PluginRuntime rt = PluginRuntime.start(plugins);
             TuningSession s = TuningSession.open(RunConfigValidator.validate(RunConfigParser.parse(yaml, true),
                     rt.extensions()), rt.extensions())) {
            var instance = s.peft().adapter("default").instance();
            List<AdaptableLinear> sites = instance.modules().keySet().stream().map(s.model()::linear).toList();
            assertThat(sites).hasSize(5 * 3).allSatisfy(l -> assertThat(l.quantized()).isTrue());
            logits(s);
            for (AdaptableLinear l : sites) {
                var module = (io.peft4j.api.LinearSiteModule) instance.modules().get(l.site().path());
                module.deltaWeight(l).orElseThrow().close();
            }
            s.peft().merge("default");
            s.peft().unmergeAll();
            assertThat(sites).allSatisfy(l -> assertThat(l.openWeightLeases()).as(l.site().path()).isZero());
        }
    }

    @Test
    void ia3PluginBuiltAgainstTheApiTrainsSavesAndReloads() throws Exception {
        Path plugins = pluginsWithIa3();

        Path out = tmp.resolve("run");
        RunConfig cfg = Runs.yaml("- {name: default, method: ia3, target_modules: [k_proj, v_proj, down_proj], "
                + "feedforward_modules: [down_proj]}", 20, out);
        float[] trained;
        try (PluginRuntime rt = PluginRuntime.start(plugins)) {
            assertThat(rt.report().plugin("ia3-example")).isNotNull();
            assertThat(rt.extensions().adapters()).containsKeys("ia3", "lora");
            RunPlan plan = RunConfigValidator.validate(cfg, rt.extensions());
            try (TuningSession s = TuningSession.open(plan, rt.extensions())) {
                TuningSession.Outcome o = s.train();
                List<Double> l = o.training().losses();
                assertThat(l.subList(15, 20).stream().mapToDouble(d -> d).average().orElseThrow())
                        .isLessThan(l.subList(0, 5).stream().mapToDouble(d -> d).average().orElseThrow());
                trained = logits(s);
            }
            String cfgJson = Files.readString(out.resolve("adapter/adapter_config.json"));
            assertThat(cfgJson).contains("\"peft_type\" : \"IA3\"").contains("feedforward_modules");
        }
        try (PluginRuntime rt = PluginRuntime.start(plugins)) {
            RunPlan plan = RunConfigValidator.validate(Runs.yaml("[]", 1, tmp.resolve("bare")), rt.extensions());
            try (TuningSession s = TuningSession.open(plan, rt.extensions())) {
                AdapterFiles.load(s.peft(), rt.extensions(), out.resolve("adapter"), "default", 0);
                s.peft().setActive(List.of("default"));
                assertThat(logits(s)).containsExactly(trained);
            }
        }
    }
}
