package io.peft4j.core.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peft4j.core.train.checkpoint.CheckpointManager;
import io.peft4j.core.train.checkpoint.SimpleSafetensors;
import io.peft4j.core.train.checkpoint.TrainerState;
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
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Best-eval selection ({@code loadBestAtEnd}), early stopping and best-aware checkpoint retention. A constant
 * schedule makes the first k steps of a run identical to a k-step run, so "the weights of the best eval" can be
 * computed independently by training exactly to the best step.
 */
class BestEvalTrainingTest {
    /** Large enough that eval loss goes up again after its minimum on this data (checked, not assumed). */
    private static final double LR = 0.4;

    @TempDir
    Path dir;

    /** Train and eval texts use different letters, so fitting the training texts ends up hurting the eval loss. */
    private DatasetSplit data() throws IOException {
        return new DatasetSplit(read("train.jsonl", "abcabc", "abab abab", "cab bac", "aabbcc"),
                read("eval.jsonl", "hello there", "the cat sat", "good dog", "xyz"));
    }

    private List<Example> read(String name, String... texts) throws IOException {
        Path f = dir.resolve(name);
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 24; i++) {
            lines.add("{\"text\": \"" + texts[i % texts.length] + "\"}");
        }
        Files.write(f, lines);
        return JsonlDataset.read(f, DataTest.CHARS, new DataOptions(16, true, true, true, 2, 0));
    }

    private TrainingConfig.Builder config(Path out, int steps) {
        return TrainingConfig.builder(out).maxSteps(steps).batchSize(4).maxGradNorm(0).seed(5).logEvery(1)
                .evalEvery(1).checkpointEvery(0).progressBar(false);
    }

    private Trainer trainer(TinyLm model, TrainingConfig cfg, DatasetSplit data, StepCallback cb) {
        Trainer.Builder b = Trainer.builder(model, cfg).parameterGroups(model.groups(LR))
                .schedule(LrSchedule.Kind.CONSTANT, 0)
                .trainData(new DataLoader(data.train(), cfg.batchSize(), false, 16, 0, true, 3))
                .evalData(new DataLoader(data.eval(), 4, false, 16, 0, false, 0));
        if (cb != null) {
            b.afterStep(cb);
        }
        return b.build();
    }

    private static List<Double> evalLosses(Path out) throws IOException {
        List<Double> l = new ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        for (String line : Files.readAllLines(out.resolve(Trainer.METRICS_FILE))) {
            JsonNode n = json.readTree(line);
            if (n.has("eval_loss")) {
                l.add(n.get("eval_loss").asDouble());
            }
        }
        return l;
    }

    private static float[] headAfter(TinyLm m) {
        return m.head.value().toFloatArray();
    }

    @Test
    void endsWithTheWeightsOfTheBestEval() throws IOException {
        DatasetSplit data = data();
        int steps = 12;
        Path out = dir.resolve("best");
        TinyLm m = new TinyLm(0);
        TrainingResult r;
        double afterLoss;
        float[] head;
        try (Trainer t = trainer(m, config(out, steps).loadBestAtEnd(true).build(), data, null)) {
            r = t.train();
            afterLoss = t.evaluate().loss();
            head = headAfter(m);
        } finally {
            m.close();
        }
        List<Double> evals = evalLosses(out);
        assertThat(evals).hasSize(steps);
        int argmin = 0;
        for (int i = 1; i < evals.size(); i++) {
            if (evals.get(i) < evals.get(argmin)) {
                argmin = i;
            }
        }
        int bestStep = argmin + 1;
        assertThat(bestStep).as("the setup must make the last eval worse than the best: " + evals).isLessThan(steps);
        assertThat(r.bestStep()).isEqualTo(bestStep);
        assertThat(r.bestEvalLoss()).isEqualTo(evals.get(argmin));
        assertThat(r.endedWithBest()).isTrue();
        assertThat(r.stoppedEarly()).isFalse();
        assertThat(afterLoss).as("eval after training is the best eval's").isEqualTo(evals.get(argmin));

        // Independently: a run that simply stops at the best step has the same weights.
        TinyLm m2 = new TinyLm(0);
        try (Trainer t = trainer(m2, config(dir.resolve("short"), bestStep).build(), data, null)) {
            t.train();
            assertThat(headAfter(m2)).containsExactly(head);
        } finally {
            m2.close();
        }

        // Without loadBestAtEnd the last step's weights stay.
        TinyLm m3 = new TinyLm(0);
        try (Trainer t = trainer(m3, config(dir.resolve("last"), steps).build(), data, null)) {
            TrainingResult last = t.train();
            assertThat(last.endedWithBest()).isFalse();
            assertThat(t.evaluate().loss()).isEqualTo(evals.get(steps - 1));
        } finally {
            m3.close();
        }
    }

    @Test
    void earlyStoppingEndsAfterPatienceEvalsWithoutEnoughImprovement() throws IOException {
        DatasetSplit data = data();
        Path out = dir.resolve("early");
        TinyLm m = new TinyLm(0);
        // A threshold no eval can beat: the first eval sets the best, the next two do not count as improvements.
        try (Trainer t = trainer(m, config(out, 20).earlyStoppingPatience(2).earlyStoppingThreshold(100)
                .checkpointEvery(10).build(), data, null)) {
            TrainingResult r = t.train();
            assertThat(r.steps()).isEqualTo(3);
            assertThat(r.stoppedEarly()).isTrue();
            assertThat(r.losses()).hasSize(3);
        } finally {
            m.close();
        }
        assertThat(evalLosses(out)).hasSize(3);
        // the step it stopped at is checkpointed, like a last step
        assertThat(new CheckpointManager(out.resolve(Trainer.CHECKPOINTS_DIR), 1, null).latest())
                .hasValueSatisfying(p -> assertThat(p.getFileName().toString()).isEqualTo("step-3"));
    }

    @Test
    void resumedRunStillEndsWithTheBestWeights() throws IOException {
        DatasetSplit data = data();
        int steps = 12;
        float[] straight;
        TinyLm m1 = new TinyLm(0);
        TrainingResult full;
        try (Trainer t = trainer(m1, config(dir.resolve("straight"), steps).loadBestAtEnd(true).checkpointEvery(4)
                .keepCheckpoints(1).build(), data, null)) {
            full = t.train();
            straight = headAfter(m1);
        } finally {
            m1.close();
        }
        assertThat(full.bestStep()).isLessThan(steps);

        Path out = dir.resolve("resumed");
        int crashAt = full.bestStep() + 1;
        TinyLm m2 = new TinyLm(0);
        try (Trainer t = trainer(m2, config(out, steps).loadBestAtEnd(true).checkpointEvery(4).keepCheckpoints(1)
                .build(), data, s -> {
                    if (s.step() == crashAt) {
                        throw new IllegalStateException("simulated crash");
                    }
                })) {
            assertThatThrownBy(t::train).hasMessage("simulated crash");
        } finally {
            m2.close();
        }
        TinyLm fresh = new TinyLm(0);
        try (Trainer t = trainer(fresh, config(out, steps).loadBestAtEnd(true).checkpointEvery(4).keepCheckpoints(1)
                .resume(true).build(), data, null)) {
            TrainingResult r = t.train();
            assertThat(r.bestStep()).isEqualTo(full.bestStep());
            assertThat(headAfter(fresh)).containsExactly(straight);
        } finally {
            fresh.close();
        }
        // retention: the newest checkpoint plus the best one
        try (Stream<Path> s = Files.list(out.resolve(Trainer.CHECKPOINTS_DIR))) {
            assertThat(s.map(p -> p.getFileName().toString()).sorted().toList())
                    .contains("step-" + steps, "step-" + full.bestStep()).hasSize(2);
        }
    }

    @Test
    void retentionKeepsTheBestCheckpointBesideTheNewest() throws IOException {
        CheckpointManager cm = new CheckpointManager(dir.resolve("ck"), 1, new SimpleSafetensors());
        try (ai.djl.ndarray.NDManager nd = ai.djl.ndarray.NDManager.newBaseManager()) {
            Map<String, ai.djl.ndarray.NDArray> t = Map.of("w", nd.ones(new ai.djl.ndarray.types.Shape(2)));
            for (int step = 1; step <= 5; step++) {
                cm.save(new TrainerState(step, step, 1, 1, 1, 0, Map.of(), null, 2, 0.5, 0), t, Map.of());
            }
        }
        assertThat(cm.list()).extracting(p -> p.getFileName().toString()).containsExactly("step-2", "step-5");
    }
}
