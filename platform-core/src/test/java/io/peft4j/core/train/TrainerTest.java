package io.peft4j.core.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peft4j.core.train.checkpoint.CheckpointManager;
import io.peft4j.core.train.data.DataLoader;
import io.peft4j.core.train.data.DataOptions;
import io.peft4j.core.train.data.DatasetSplit;
import io.peft4j.core.train.data.Example;
import io.peft4j.core.train.data.JsonlDataset;
import io.peft4j.core.train.optim.LrSchedule;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainerTest {
    @TempDir
    Path dir;

    private DatasetSplit data() throws IOException {
        // a file holds one format: the prompt/completion rows and the text rows are two files, read in turn
        Path pc = dir.resolve("train-pc.jsonl");
        Path text = dir.resolve("train-text.jsonl");
        List<String> pcLines = new ArrayList<>();
        List<String> textLines = new ArrayList<>();
        String[] words = {"abcabc", "hello there", "the cat sat", "abab abab", "xyz xyz xyz", "good dog"};
        for (int i = 0; i < 30; i++) {
            String w = words[i % words.length];
            if (i % 3 == 0) {
                pcLines.add("{\"prompt\": \"q" + (i % 5) + "\", \"completion\": \"" + w + "\"}");
            } else {
                textLines.add("{\"text\": \"" + w + " " + (i % 7) + "\"}");
            }
        }
        Files.write(pc, pcLines);
        Files.write(text, textLines);
        DataOptions opts = new DataOptions(16, true, true, true, 2, 0);
        List<Example> ex = new ArrayList<>(JsonlDataset.read(pc, DataTest.CHARS, opts));
        ex.addAll(JsonlDataset.read(text, DataTest.CHARS, opts));
        return DatasetSplit.split(ex, 0.2, 11);
    }

    private TrainingConfig.Builder config(Path out) {
        return TrainingConfig.builder(out).batchSize(4).gradientAccumulationSteps(2).maxGradNorm(1.0).seed(5)
                .logEvery(1).progressBar(false);
    }

    private Trainer trainer(TinyLm model, TrainingConfig cfg, DatasetSplit data, StepCallback cb) {
        Trainer.Builder b = Trainer.builder(model, cfg).parameterGroups(model.groups(0.05))
                .schedule(LrSchedule.Kind.COSINE, 2)
                .trainData(new DataLoader(data.train(), cfg.batchSize(), false, 16, 0, true, 3))
                .evalData(new DataLoader(data.eval(), 4, false, 16, 0, false, 0));
        if (cb != null) {
            b.afterStep(cb);
        }
        return b.build();
    }

    @Test
    void sameConfigTwiceGivesBitIdenticalLossesAndLearns() throws IOException {
        DatasetSplit data = data();
        List<Double> first;
        double before;
        TinyLm m1 = new TinyLm(0);
        try (Trainer t = trainer(m1, config(dir.resolve("a")).maxSteps(10).checkpointEvery(0).build(), data, null)) {
            before = t.evaluate().loss();
            TrainingResult r = t.train();
            first = r.losses();
            assertThat(r.steps()).isEqualTo(10);
            assertThat(r.lastEval().loss()).isLessThan(before);
            assertThat(r.lastEval().perplexity()).isEqualTo(Math.exp(r.lastEval().loss()));
        } finally {
            m1.close();
        }
        TinyLm m2 = new TinyLm(0);
        try (Trainer t = trainer(m2, config(dir.resolve("b")).maxSteps(10).checkpointEvery(0).build(), data, null)) {
            assertThat(t.train().losses()).containsExactlyElementsOf(first);
        } finally {
            m2.close();
        }
        assertThat(first).hasSize(10).allMatch(Double::isFinite);
        assertThat(first.stream().distinct().count()).isGreaterThan(5);
        // the seed drives dropout: another seed (same data order) gives other losses
        TinyLm m3 = new TinyLm(0);
        try (Trainer t = trainer(m3, config(dir.resolve("c")).maxSteps(10).checkpointEvery(0).seed(6).build(), data,
                null)) {
            assertThat(t.train().losses()).isNotEqualTo(first);
        } finally {
            m3.close();
        }
    }

    @Test
    void resumeAfterCrashReproducesTheUninterruptedRun() throws IOException {
        DatasetSplit data = data();
        List<Double> straight;
        float[] straightHead;
        TinyLm m1 = new TinyLm(0);
        try (Trainer t = trainer(m1, config(dir.resolve("straight")).maxSteps(6).checkpointEvery(3).build(),
                data, null)) {
            straight = t.train().losses();
            straightHead = m1.head.value().toFloatArray();
        } finally {
            m1.close();
        }

        Path out = dir.resolve("resumed");
        TinyLm m2 = new TinyLm(0);
        try (Trainer t = trainer(m2, config(out).maxSteps(6).checkpointEvery(3).build(), data, m -> {
            if (m.step() == 4) {
                throw new IllegalStateException("simulated crash");
            }
        })) {
            assertThatThrownBy(t::train).hasMessage("simulated crash");
        } finally {
            m2.close();
        }
        assertThat(new CheckpointManager(out.resolve("checkpoints"), 3, null).latest())
                .hasValueSatisfying(p -> assertThat(p.getFileName().toString()).isEqualTo("step-3"));

        TinyLm fresh = new TinyLm(0);
        try {
            // spoil the trainable tensors: every one of them must come back from the checkpoint
            for (var p : List.of(fresh.a, fresh.b, fresh.head, fresh.headBias)) {
                p.value().muli(0).addi(0.123f);
            }
            try (Trainer t = trainer(fresh, config(out).maxSteps(6).checkpointEvery(3).resume(true).build(),
                    data, null)) {
                TrainingResult r = t.train();
                assertThat(r.firstStep()).isEqualTo(4);
                assertThat(r.losses()).containsExactlyElementsOf(straight.subList(3, 6));
                assertThat(fresh.head.value().toFloatArray()).containsExactly(straightHead);
            }
        } finally {
            fresh.close();
        }
        List<Integer> steps = new ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        for (String line : Files.readAllLines(out.resolve(Trainer.METRICS_FILE))) {
            steps.add(json.readTree(line).get("step").asInt());
        }
        assertThat(steps).containsExactly(1, 2, 3, 4, 5, 6);
    }

    @Test
    void writesMetricsPlotAndKeepsLastCheckpoints() throws IOException {
        DatasetSplit data = data();
        Path out = dir.resolve("run");
        TinyLm m = new TinyLm(0);
        try (Trainer t = trainer(m, config(out).maxSteps(6).checkpointEvery(2).keepCheckpoints(2).evalEvery(3)
                .logEvery(2).build(), data, null)) {
            t.train();
        } finally {
            m.close();
        }
        try (Stream<Path> s = Files.list(out.resolve("checkpoints"))) {
            assertThat(s.map(p -> p.getFileName().toString()).sorted().toList()).containsExactly("step-4", "step-6");
        }
        Path ck = out.resolve("checkpoints/step-6");
        assertThat(ck.resolve("trainable.safetensors")).isRegularFile();
        assertThat(ck.resolve("optimizer.safetensors")).isRegularFile();
        assertThat(ck.resolve("trainer_state.json")).isRegularFile();

        ObjectMapper json = new ObjectMapper();
        List<JsonNode> rows = new ArrayList<>();
        for (String line : Files.readAllLines(out.resolve(Trainer.METRICS_FILE))) {
            rows.add(json.readTree(line));
        }
        // log at 2, 4, 6; eval at 3 and 6 (6 merged into one row)
        assertThat(rows).extracting(r -> r.get("step").asInt()).containsExactly(2, 3, 4, 6);
        JsonNode last = rows.get(3);
        for (String f : List.of("loss", "lr", "grad_norm", "tokens", "tokens_per_s", "eval_loss", "eval_ppl",
                "elapsed")) {
            assertThat(last.has(f)).as(f).isTrue();
        }
        assertThat(rows.get(1).has("loss")).isFalse();
        assertThat(rows.get(1).get("eval_ppl").asDouble()).isEqualTo(Math.exp(rows.get(1).get("eval_loss").asDouble()));
        byte[] png = Files.readAllBytes(out.resolve(Trainer.PLOT_FILE));
        assertThat(png).startsWith(0x89, 'P', 'N', 'G');
    }

    @Test
    void epochsModeCountsStepsFromBatchesAndAccumulation() throws IOException {
        DatasetSplit data = data();
        TinyLm m = new TinyLm(0);
        try (Trainer t = trainer(m, config(dir.resolve("e")).epochs(2).checkpointEvery(0).build(), data, null)) {
            // 24 train rows / batch 4 = 6 batches per epoch; 12 micro-batches / accumulation 2
            assertThat(t.totalSteps()).isEqualTo(6);
        } finally {
            m.close();
        }
    }
}
