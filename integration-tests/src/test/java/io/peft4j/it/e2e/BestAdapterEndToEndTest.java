package io.peft4j.it.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peft4j.core.config.RunConfig;
import io.peft4j.core.config.RunConfigParser;
import io.peft4j.core.peft.AdapterFiles;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.run.RunConfigValidator;
import io.peft4j.core.run.TuningSession;
import io.peft4j.it.support.Dist;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * On the real stories260K and the bundled task (as the demo): the run keeps the adapter of its best eval, early
 * stopping ends it once the eval loss stops improving, and the saved adapter, reloaded in a fresh platform, has
 * exactly that best eval loss. Training without eval data trains and saves.
 */
class BestAdapterEndToEndTest {
    @TempDir
    Path tmp;

    private static RunConfig config(String training, String data, Path out) {
        return RunConfigParser.parse("""
                model: bundled:stories260K
                adapters:
                  - {method: lora, r: 8, lora_alpha: 16, target_modules: all-linear}
                optimizer: {lr: 0.01}
                training: {batch_size: 16, max_seq_len: 96, schedule: constant, log_every: 5, seed: 42,
                           progress_bar: false, %s}
                data: %s
                output: {dir: "%s"}
                """.formatted(training, data, out.toString().replace("\\", "/")), true);
    }

    private static Map<Integer, Double> evals(Path out) throws Exception {
        Map<Integer, Double> m = new LinkedHashMap<>();
        ObjectMapper json = new ObjectMapper();
        for (String line : Files.readAllLines(out.resolve("metrics.jsonl"))) {
            JsonNode n = json.readTree(line);
            if (n.has("eval_loss")) {
                m.put(n.get("step").asInt(), n.get("eval_loss").asDouble());
            }
        }
        return m;
    }

    @Test
    void keepsTheBestAdapterAndStopsEarly() throws Exception {
        Path out = tmp.resolve("run");
        RunConfig cfg = config("steps: 200, eval_every: 10, early_stopping_patience: 2, checkpoint_every: 20, "
                + "keep_checkpoints: 1", "{train: \"bundled:demo/train.jsonl\", eval: \"bundled:demo/eval.jsonl\"}",
                out);
        TuningSession.Outcome o;
        try (PluginRuntime rt = PluginRuntime.start(Dist.pluginsDir());
             TuningSession s = TuningSession.open(RunConfigValidator.validate(cfg, rt.extensions()),
                     rt.extensions())) {
            o = s.train();
        }
        Map<Integer, Double> evals = evals(out);
        int best = evals.entrySet().stream().min(Map.Entry.comparingByValue()).orElseThrow().getKey();
        int last = o.training().steps();
        assertThat(o.training().stoppedEarly()).as("evals " + evals).isTrue();
        assertThat(last).isLessThan(200);
        assertThat(best).as("evals " + evals).isLessThan(last);
        // stopped after two evals in a row that were not better than the best
        assertThat(evals.get(last)).isGreaterThanOrEqualTo(evals.get(best));
        assertThat(evals.get(last - 10)).isGreaterThanOrEqualTo(evals.get(best));
        assertThat(o.training().bestStep()).isEqualTo(best);
        assertThat(o.training().endedWithBest()).isTrue();
        assertThat(o.evalAfter().loss()).isEqualTo(evals.get(best));
        assertThat(o.evalAfter().loss()).isLessThan(evals.get(last));
        // retention: the newest checkpoint and the best one (checkpointed when it was found)
        try (var dirs = Files.list(out.resolve("checkpoints"))) {
            assertThat(dirs.map(p -> p.getFileName().toString()).sorted().toList())
                    .containsExactlyInAnyOrder("step-" + best, "step-" + last);
        }

        // the saved adapter is the best one: reloaded in a fresh platform it has the best eval loss
        RunConfig bare = config("steps: 1", "{eval: \"bundled:demo/eval.jsonl\"}", tmp.resolve("eval")).withAdapters(
                List.of());
        try (PluginRuntime rt = PluginRuntime.start(Dist.pluginsDir());
             TuningSession s = TuningSession.open(RunConfigValidator.validate(bare, rt.extensions()),
                     rt.extensions())) {
            AdapterFiles.load(s.peft(), rt.extensions(), out.resolve("adapter"), "default", 0);
            s.peft().setActive(List.of("default"));
            assertThat(s.evaluate().loss()).isCloseTo(evals.get(best), org.assertj.core.data.Offset.offset(1e-6));
        }
    }

    @Test
    void trainsAndSavesWithoutEvalData() throws Exception {
        Path out = tmp.resolve("no-eval");
        RunConfig cfg = config("steps: 3", "{train: \"bundled:demo/train.jsonl\"}", out);
        try (PluginRuntime rt = PluginRuntime.start(Dist.pluginsDir());
             TuningSession s = TuningSession.open(RunConfigValidator.validate(cfg, rt.extensions()),
                     rt.extensions())) {
            assertThat(s.hasEvalData()).isFalse();
            TuningSession.Outcome o = s.train();
            assertThat(o.evalBefore()).isNull();
            assertThat(o.evalAfter()).isNull();
            assertThat(o.training().steps()).isEqualTo(3);
            assertThat(o.training().bestStep()).isNull();
            assertThat(o.training().endedWithBest()).isFalse();
            assertThat(out.resolve("adapter/adapter_model.safetensors")).isRegularFile();
            org.assertj.core.api.Assertions.assertThatThrownBy(s::evaluate)
                    .isInstanceOf(io.peft4j.api.ConfigException.class).hasMessageContaining("data.eval");
        }
        assertThat(evals(out)).isEmpty();
    }
}
