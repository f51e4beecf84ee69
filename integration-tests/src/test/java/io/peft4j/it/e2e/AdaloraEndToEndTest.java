package io.peft4j.it.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peft4j.api.ConfigException;
import io.peft4j.core.config.RunConfig;
import io.peft4j.core.io.SafetensorsReader;
import io.peft4j.core.io.SafetensorsWriter;
import io.peft4j.core.model.LlamaModel;
import io.peft4j.core.model.PlatformForwardContext;
import io.peft4j.core.peft.AdapterFiles;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.run.RunConfigValidator;
import io.peft4j.core.run.RunPlan;
import io.peft4j.core.run.TuningSession;
import io.peft4j.core.train.checkpoint.CheckpointManager;
import io.peft4j.it.support.Dist;
import io.peft4j.it.support.Runs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * AdaLoRA end to end on the real stories260K, with the platform started from the distribution's plugins directory:
 * the "adalora" allocator is attached automatically, prunes from init_r 6 to an average of 2 (final allocation at
 * PEFT's global_step total_step - tfinal = 16, i.e. optimizer step 17; pattern re-applied until step 20), the saved
 * adapter carries the rank pattern and resized tensors, and a fresh platform reloading it reproduces the trained
 * model's logits.
 */
class AdaloraEndToEndTest {
    private static final long[] PROBE = {1, 403, 407, 261, 378, 432, 383, 286, 261};
    private static final String ADALORA = "- {name: default, method: adalora, init_r: 6, target_r: 2, total_step: 20, "
            + "tinit: 2, tfinal: 4, deltaT: 2, lora_alpha: 8, target_modules: [q_proj, v_proj]}";

    @TempDir
    Path tmp;

    private static float[] logits(LlamaModel model) {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray ids = m.create(PROBE).reshape(1, PROBE.length);
            return model.forward(ids, null, null, PlatformForwardContext.eval(m)).toFloatArray();
        }
    }

    @Test
    void trainPruneSaveReload() throws Exception {
        Path out = tmp.resolve("run");
        RunConfig cfg = Runs.yaml(ADALORA, 20, out);
        float[] trained;
        try (PluginRuntime rt = PluginRuntime.start(Dist.pluginsDir())) {
            assertThat(rt.extensions().adapters()).containsKey("adalora");
            assertThat(rt.extensions().rankAllocators()).containsKey("adalora");
            RunPlan plan = RunConfigValidator.validate(cfg, rt.extensions());
            assertThat(plan.adapters().get(0).allocator()).as("allocator attached without rank_allocator:")
                    .isNotNull();
            try (TuningSession s = TuningSession.open(plan, rt.extensions())) {
                TuningSession.Outcome o = s.train();
                List<Double> losses = o.training().losses();
                assertThat(losses).hasSize(20);
                double firstFive = losses.subList(0, 5).stream().mapToDouble(d -> d).average().orElseThrow();
                double lastFive = losses.subList(15, 20).stream().mapToDouble(d -> d).average().orElseThrow();
                assertThat(lastFive).as("training loss (task + orthogonal regulariser) falls").isLessThan(firstFive);
                assertThat(o.evalAfter().loss()).as("eval loss falls").isLessThan(o.evalBefore().loss());
                trained = logits(s.model());
                System.out.printf("adalora e2e: loss first5 %.4f last5 %.4f, eval %.4f -> %.4f%n", firstFive,
                        lastFive, o.evalBefore().loss(), o.evalAfter().loss());
            }
        }

        Path adapter = out.resolve("adapter");
        JsonNode config = new ObjectMapper().readTree(adapter.resolve(AdapterFiles.CONFIG_FILE).toFile());
        assertThat(config.get("peft_type").asText()).isEqualTo("ADALORA");
        JsonNode pattern = config.get("rank_pattern");
        assertThat(pattern.isObject()).as("rank_pattern written: " + pattern).isTrue();
        assertThat(pattern.size()).isEqualTo(10);   // 5 layers x (q_proj, v_proj)
        Map<String, Integer> kept = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = pattern.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            assertThat(e.getKey()).matches("model\\.layers\\.\\d\\.self_attn\\.[qv]_proj\\.lora_E");
            assertThat(e.getValue().size()).isEqualTo(6);
            int n = 0;
            for (JsonNode b : e.getValue()) {
                n += b.asBoolean() ? 1 : 0;
            }
            kept.put(e.getKey().substring(0, e.getKey().length() - ".lora_E".length()), n);
        }
        assertThat(kept.values().stream().mapToInt(Integer::intValue).sum()).as("target budget 2 x 10 modules")
                .isEqualTo(20);
        try (NDManager m = NDManager.newBaseManager();
             SafetensorsReader r = SafetensorsReader.open(adapter.resolve(AdapterFiles.WEIGHTS_FILE))) {
            Map<String, NDArray> tensors = r.readAll(m);
            assertThat(tensors).hasSize(30);
            kept.forEach((path, n) -> {
                String k = "base_model.model." + path;
                assertThat(tensors.get(k + ".lora_A").getShape().getShape()).as(path).containsExactly(n, 64);
                assertThat(tensors.get(k + ".lora_E").getShape().getShape()).as(path).containsExactly(n, 1);
                assertThat(tensors.get(k + ".lora_B").getShape().getShape()[1]).as(path).isEqualTo((long) n);
            });
        }

        try (PluginRuntime rt = PluginRuntime.start(Dist.pluginsDir())) {
            RunPlan plan = RunConfigValidator.validate(Runs.yaml("[]", 1, tmp.resolve("bare")), rt.extensions());
            try (TuningSession s = TuningSession.open(plan, rt.extensions())) {
                AdapterFiles.load(s.peft(), rt.extensions(), adapter, "default", 0);
                s.peft().setActive(List.of("default"));
                float[] reloaded = logits(s.model());
                System.out.println("adalora e2e: kept ranks " + kept + "; reloaded logits max |diff| "
                        + LoraEndToEndTest.maxAbsDiff(reloaded, trained));
                // The trained model still holds init_r columns (pruned ones exactly zero); the reloaded one only the
                // kept ones, so matmul sums differ at most by float32 re-association.
                assertThat(LoraEndToEndTest.maxAbsDiff(reloaded, trained)).as("reloaded adapter reproduces the logits")
                        .isLessThanOrEqualTo(1e-5 * Math.max(1, LoraEndToEndTest.maxAbs(trained)));
            }
        }

        // The same files with one tensor of another model's shape: the error names the module and both shapes.
        Path wrong = tmp.resolve("wrong");
        Files.createDirectories(wrong);
        Files.copy(adapter.resolve(AdapterFiles.CONFIG_FILE), wrong.resolve(AdapterFiles.CONFIG_FILE));
        String module = kept.entrySet().stream().filter(e -> e.getValue() > 0).findFirst().orElseThrow().getKey();
        int rank = kept.get(module);
        try (NDManager m = NDManager.newBaseManager();
             SafetensorsReader r = SafetensorsReader.open(adapter.resolve(AdapterFiles.WEIGHTS_FILE))) {
            Map<String, NDArray> tensors = new LinkedHashMap<>(r.readAll(m));
            tensors.put("base_model.model." + module + ".lora_A", m.zeros(new ai.djl.ndarray.types.Shape(rank, 128)));
            SafetensorsWriter.write(wrong.resolve(AdapterFiles.WEIGHTS_FILE), tensors);
        }
        try (PluginRuntime rt = PluginRuntime.start(Dist.pluginsDir())) {
            RunPlan plan = RunConfigValidator.validate(Runs.yaml("[]", 1, tmp.resolve("bare2")), rt.extensions());
            try (TuningSession s = TuningSession.open(plan, rt.extensions())) {
                assertThatThrownBy(() -> AdapterFiles.load(s.peft(), rt.extensions(), wrong, "default", 0))
                        .isInstanceOf(ConfigException.class).hasMessageContaining(module)
                        .hasMessageContaining("(" + rank + ", 128)").hasMessageContaining("(" + rank + ", 64)");
            }
        }
    }

    @Test
    void badSchedulesAreRejectedNamingTheField() throws Exception {
        try (PluginRuntime rt = PluginRuntime.start(Dist.pluginsDir())) {
            reject(rt, "- {method: adalora, init_r: 4, target_r: 6, total_step: 10}", "adapters[0].target_r",
                    "init_r = 4");
            reject(rt, "- {method: adalora, init_r: 4, target_r: 2}", "adapters[0].total_step", "required");
            reject(rt, "- {method: adalora, total_step: 10, tinit: 6, tfinal: 4}", "adapters[0].tinit",
                    "tinit < total_step - tfinal");
            // total_step beyond the run's steps: rejected when training starts, before any step.
            RunPlan plan = RunConfigValidator.validate(Runs.yaml("- {name: default, method: adalora, init_r: 4, "
                    + "target_r: 2, total_step: 50}", 5, tmp.resolve("long")), rt.extensions());
            try (TuningSession s = TuningSession.open(plan, rt.extensions())) {
                assertThatThrownBy(s::train).isInstanceOf(ConfigException.class)
                        .hasMessageStartingWith("adapters.default.total_step:")
                        .hasMessageContaining("only 5 optimizer steps");
            }
        }
    }

    private void reject(PluginRuntime rt, String yaml, String... fragments) {
        var t = assertThatThrownBy(() -> RunConfigValidator.validate(Runs.yaml(yaml, 20, tmp), rt.extensions()))
                .isInstanceOf(ConfigException.class);
        for (String f : fragments) {
            t.hasMessageContaining(f);
        }
    }

    /**
     * A run resumed from a checkpoint taken while the allocator is mid-schedule (importance averages in flight, a
     * rank pattern applied) ends exactly where the uninterrupted run ends: the allocator's state is checkpointed.
     */
    @Test
    void resumeMidScheduleEndsWhereTheUninterruptedRunEnds() throws Exception {
        Path full = tmp.resolve("full");
        float[] uninterrupted = trainAdalora(full, false);
        Path checkpoints = full.resolve("checkpoints");
        Path step10;
        try (var list = Files.list(checkpoints)) {
            step10 = list.filter(p -> CheckpointManager.stepOf(p) == 10).findFirst().orElseThrow();
        }
        try (NDManager m = NDManager.newBaseManager();
             SafetensorsReader r = SafetensorsReader.open(step10.resolve("optimizer.safetensors"))) {
            assertThat(r.readAll(m).keySet()).as("allocator state saved beside the optimizer's")
                    .anyMatch(k -> k.startsWith("state/allocator.default/") && k.endsWith(".exp_avg_ipt"))
                    .anyMatch(k -> k.startsWith("state/allocator.default/") && k.endsWith(".rank_pattern"));
        }
        Path resumed = tmp.resolve("resumed");
        Files.createDirectories(resumed.resolve("checkpoints"));
        copyTree(step10, resumed.resolve("checkpoints").resolve(step10.getFileName()));
        float[] fromStep10 = trainAdalora(resumed, true);
        assertThat(fromStep10).containsExactly(uninterrupted);
    }

    private float[] trainAdalora(Path out, boolean resume) throws Exception {
        String yaml = """
                model: {path: "bundled:stories260K"}
                adapters:
                  %s
                optimizer: {lr: 0.005}
                training: {steps: 20, batch_size: 8, max_seq_len: 80, warmup_steps: 2, log_every: 1, seed: 7,
                           progress_bar: false, checkpoint_every: 5, keep_checkpoints: 4, resume: %s}
                data: {train: "bundled:demo/train.jsonl", eval: "bundled:demo/eval.jsonl"}
                output: {dir: "%s"}
                """.formatted(ADALORA, resume, out.toString().replace("\\", "/"));
        try (PluginRuntime rt = PluginRuntime.start(Dist.pluginsDir());
             TuningSession s = TuningSession.open(RunConfigValidator.validate(
                     io.peft4j.core.config.RunConfigParser.parse(yaml, true), rt.extensions()), rt.extensions())) {
            TuningSession.Outcome o = s.train();
            assertThat(o.training().firstStep()).isEqualTo(resume ? 11 : 1);
            return logits(s.model());
        }
    }

    private static void copyTree(Path from, Path to) throws java.io.IOException {
        try (var walk = Files.walk(from)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target);
                }
            }
        }
    }
}
