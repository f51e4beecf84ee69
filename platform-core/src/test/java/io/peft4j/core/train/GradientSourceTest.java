package io.peft4j.core.train;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import io.peft4j.api.Parameter;
import io.peft4j.core.train.data.DataLoader;
import io.peft4j.core.train.data.DataOptions;
import io.peft4j.core.train.data.Example;
import io.peft4j.core.train.data.JsonlDataset;
import io.peft4j.core.train.optim.LrSchedule;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The data-parallel seam: a {@link Trainer.GradientSource} that has two replicas of the model compute alternate
 * micro-batches ({@link MicroBatchBackward}), exchanges their gradients as {@link FlatParameters} and writes the sum
 * into the trained model gives the same parameters as the plain trainer with gradient accumulation.
 */
class GradientSourceTest {
    @TempDir
    Path dir;

    @Test
    void flatValuesAndGradientsRoundTripIntoTheParameters() {
        TinyLm m = new TinyLm(3);
        try {
            List<Parameter> ps = List.of(m.a, m.b, m.head, m.headBias);
            FlatParameters flat = new FlatParameters(ps);
            assertThat(flat.size()).isEqualTo(TinyLm.RANK * TinyLm.HIDDEN * 2 + TinyLm.VOCAB * TinyLm.HIDDEN
                    + TinyLm.VOCAB);
            float[] v = flat.values();
            for (int i = 0; i < v.length; i++) {
                v[i] = i * 0.5f - 7f;
            }
            flat.setValues(v);
            assertThat(flat.values()).containsExactly(v);
            for (Parameter p : ps) {
                p.value().setRequiresGradient(true);
            }
            boolean[] defined = new boolean[4];
            assertThat(flat.gradients(defined)).containsOnly(0f);
            assertThat(defined).containsOnly(false);
            float[] g = new float[v.length];
            for (int i = 0; i < g.length; i++) {
                g[i] = (float) Math.sin(i);
            }
            flat.setGradients(g, new boolean[] {true, true, false, true});
            float[] back = flat.gradients(defined);
            assertThat(defined).containsExactly(true, true, false, true);
            int headFrom = TinyLm.RANK * TinyLm.HIDDEN * 2;
            int headTo = headFrom + TinyLm.VOCAB * TinyLm.HIDDEN;
            for (int i = 0; i < g.length; i++) {
                assertThat(back[i]).isEqualTo(i >= headFrom && i < headTo ? 0f : g[i]);
            }
            try (NDArray viaParameter = m.headBias.value().getGradient()) {   // the parameter's own .grad changed
                assertThat(viaParameter.toFloatArray()[0]).isEqualTo(g[headTo]);
            }
            flat.zeroGradients();
            assertThat(flat.gradients(null)).containsOnly(0f);
        } finally {
            m.close();
        }
    }

    @Test
    void twoReplicasSummingFlatGradientsEqualGradientAccumulation() throws IOException {
        List<Example> ex = examples();
        float[] reference = run(ex, null, null);
        // Same frozen base; their trainable values are scrambled here and come from the trainer at every step.
        TinyLm[] replicas = {new TinyLm(7), new TinyLm(7)};
        for (TinyLm r : replicas) {
            FlatParameters f = new FlatParameters(List.of(r.a, r.b, r.head, r.headBias));
            float[] junk = new float[f.size()];
            java.util.Arrays.fill(junk, 3f);
            f.setValues(junk);
        }
        try {
            float[] dataParallel = run(ex, replicas, dir.resolve("dp"));
            float maxDiff = 0;
            for (int i = 0; i < reference.length; i++) {
                maxDiff = Math.max(maxDiff, Math.abs(reference[i] - dataParallel[i]));
            }
            assertThat(maxDiff).isLessThanOrEqualTo(1e-6f);
            TinyLm untrained = new TinyLm(7);
            try {
                float[] initial = new FlatParameters(List.of(untrained.a, untrained.b, untrained.head,
                        untrained.headBias)).values();
                assertThat(reference).isNotEqualTo(initial);   // the run trained something
            } finally {
                untrained.close();
            }
        } finally {
            for (TinyLm r : replicas) {
                r.close();
            }
        }
    }

    private float[] run(List<Example> ex, TinyLm[] replicas, Path out) throws IOException {
        TinyLm model = new TinyLm(7);
        try {
            TrainingConfig cfg = TrainingConfig.builder(out != null ? out : dir.resolve("ref")).maxSteps(12)
                    .batchSize(3).gradientAccumulationSteps(4).maxGradNorm(0.5).seed(5).progressBar(false)
                    .checkpointEvery(0).build();
            List<Parameter> trained = List.of(model.a, model.b, model.head, model.headBias);
            FlatParameters target = new FlatParameters(trained);
            Trainer.Builder b = Trainer.builder(model, cfg).parameterGroups(model.groups(0.05))
                    .schedule(LrSchedule.Kind.COSINE, 3)
                    .trainData(new DataLoader(ex, 3, false, 16, 0, true, 3));
            if (replicas != null) {
                b.gradientSource((step, window, counted) -> {
                    float[] state = target.values();
                    double[] sum = new double[target.size()];
                    boolean[] definedAny = new boolean[trained.size()];
                    double loss = 0;
                    for (int w = 0; w < replicas.length; w++) {
                        TinyLm r = replicas[w];
                        FlatParameters mine = new FlatParameters(List.of(r.a, r.b, r.head, r.headBias));
                        mine.setValues(state);
                        for (Parameter p : mine.parameters()) {
                            p.value().setRequiresGradient(true);
                        }
                        MicroBatchBackward mb = new MicroBatchBackward(r, List.of(), false, cfg.seed());
                        for (int i = w; i < window.size(); i += replicas.length) {
                            loss += mb.run(step, i, window.get(i), counted, window.size());
                        }
                        boolean[] defined = new boolean[trained.size()];
                        float[] g = mine.gradients(defined);
                        mine.zeroGradients();
                        for (int k = 0; k < g.length; k++) {
                            sum[k] += g[k];
                        }
                        for (int k = 0; k < defined.length; k++) {
                            definedAny[k] |= defined[k];
                        }
                    }
                    float[] summed = new float[sum.length];
                    for (int k = 0; k < sum.length; k++) {
                        summed[k] = (float) sum[k];
                    }
                    target.setGradients(summed, definedAny);
                    return loss;
                });
            }
            try (Trainer t = b.build()) {
                t.train();
            }
            return target.values();
        } finally {
            model.close();
        }
    }

    private List<Example> examples() throws IOException {
        Path f = dir.resolve("train.jsonl");
        List<String> lines = new ArrayList<>();
        String[] words = {"abcabc", "hello there", "the cat sat", "abab abab", "xyz xyz xyz", "good dog"};
        for (int i = 0; i < 30; i++) {
            lines.add("{\"text\": \"" + words[i % words.length] + " " + (i % 7) + "\"}");
        }
        Files.write(f, lines);
        return JsonlDataset.read(f, DataTest.CHARS, new DataOptions(16, true, true, true, 2, 0));
    }
}
