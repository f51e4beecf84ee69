package io.peft4j.it.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.peft4j.core.config.RunConfig;
import io.peft4j.core.model.GenerationOptions;
import io.peft4j.core.model.Generator;
import io.peft4j.core.model.PlatformForwardContext;
import io.peft4j.core.peft.AdapterFiles;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.run.MergedExport;
import io.peft4j.core.run.RunConfigValidator;
import io.peft4j.core.run.RunPlan;
import io.peft4j.core.run.TuningSession;
import io.peft4j.core.model.LlamaModel;
import io.peft4j.it.support.Dist;
import io.peft4j.it.support.Runs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * LoRA end to end on the real stories260K, with the platform started from the distribution's plugins directory
 * only: train (loss falls), save in PEFT format, reload in a fresh platform (identical logits), merge (merged vs
 * unmerged logits within 1e-5), export a merged Hugging Face checkpoint and reload it, generate.
 */
class LoraEndToEndTest {
    private static final long[] PROBE = {1, 403, 407, 261, 378, 432, 383, 286, 261};

    @TempDir
    Path tmp;

    private static float[] logits(TuningSession s) {
        return logits(s.model());
    }

    private static float[] logits(LlamaModel model) {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray ids = m.create(PROBE).reshape(1, PROBE.length);
            return model.forward(ids, null, null, PlatformForwardContext.eval(m)).toFloatArray();
        }
    }

    @Test
    void trainSaveReloadMergeGenerate() throws Exception {
        Path out = tmp.resolve("run");
        RunConfig cfg = Runs.lora(25, out);
        float[] trained;
        float[] base;
        try (PluginRuntime rt = PluginRuntime.start(Dist.pluginsDir())) {
            assertThat(rt.extensions().adapters()).containsKey("lora");
            RunPlan plan = RunConfigValidator.validate(cfg, rt.extensions());
            try (TuningSession s = TuningSession.open(plan, rt.extensions())) {
                s.peft().setActive(List.of());
                base = logits(s);
                s.peft().setActive(List.of("default"));
                TuningSession.Outcome o = s.train();
                List<Double> losses = o.training().losses();
                assertThat(losses).hasSize(25);
                double firstFive = losses.subList(0, 5).stream().mapToDouble(d -> d).average().orElseThrow();
                double lastFive = losses.subList(20, 25).stream().mapToDouble(d -> d).average().orElseThrow();
                assertThat(lastFive).as("training loss falls").isLessThan(firstFive * 0.8);
                assertThat(o.evalAfter().loss()).isLessThan(o.evalBefore().loss());
                trained = logits(s);
                assertThat(maxAbsDiff(trained, base)).as("the adapter changes the model").isGreaterThan(1e-2);

                // Merge into the base weights: the same function up to float32 rounding. Logits here reach ~20,
                // where one float32 ulp is 2e-6, so the bound is 1e-5 relative to the largest logit.
                double tol = 1e-5 * Math.max(1, maxAbs(trained));
                s.peft().merge("default");
                assertThat(maxAbsDiff(logits(s), trained)).isLessThan(tol);
                MergedExport.write(s.model(), plan.modelDir(), tmp.resolve("merged"));
                s.peft().unmergeAll();
                assertThat(maxAbsDiff(logits(s), trained)).isLessThan(tol);
            }
            assertThat(out.resolve("adapter/adapter_config.json")).exists();
            assertThat(out.resolve("adapter/adapter_model.safetensors")).exists();
            assertThat(out.resolve("metrics.jsonl")).exists();
            assertThat(out.resolve("loss.png")).exists();
        }

        // A fresh platform: base model without adapters, then the saved adapter.
        try (PluginRuntime rt = PluginRuntime.start(Dist.pluginsDir())) {
            RunConfig bare = Runs.yaml("[]", 1, tmp.resolve("bare"));
            RunPlan plan = RunConfigValidator.validate(bare, rt.extensions());
            try (TuningSession s = TuningSession.open(plan, rt.extensions())) {
                assertThat(maxAbsDiff(logits(s), base)).isZero();
                AdapterFiles.load(s.peft(), rt.extensions(), out.resolve("adapter"), "default", 0);
                s.peft().setActive(List.of("default"));
                assertThat(logits(s)).as("reloaded adapter gives identical logits").containsExactly(trained);
                List<Generator.Result> g = s.generate(List.of("A story about Zib:"), GenerationOptions.greedy(20));
                assertThat(g.get(0).newIds()).isNotEmpty();
                assertThat(g.get(0).text()).isNotBlank();
            }
        }

        // The exported merged checkpoint is a plain Hugging Face model with the adapter folded in.
        try (NDManager m = NDManager.newBaseManager(); LlamaModel merged = LlamaModel.load(tmp.resolve("merged"), m)) {
            assertThat(Files.exists(tmp.resolve("merged/tokenizer.json"))).isTrue();
            assertThat(maxAbsDiff(logits(merged), trained)).isLessThan(1e-5 * Math.max(1, maxAbs(trained)));
        }
    }

    static double maxAbs(float[] a) {
        double m = 0;
        for (float v : a) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }

    static double maxAbsDiff(float[] a, float[] b) {
        assertThat(a).hasSameSizeAs(b);
        double d = 0;
        for (int i = 0; i < a.length; i++) {
            d = Math.max(d, Math.abs(a[i] - b[i]));
        }
        return d;
    }
}
