package io.peft4j.core.train;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import io.peft4j.api.ForwardContext;
import io.peft4j.core.train.data.DataLoader;
import io.peft4j.core.train.data.DatasetSplit;
import io.peft4j.core.train.data.Example;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Native arrays must not accumulate across steps (forward, backward, clipping, AdamW, eval, aux loss). */
class TrainerMemoryTest {
    @TempDir
    Path dir;

    @Test
    void liveArrayCountsStayConstantOver150Steps() throws IOException {
        List<Example> ex = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            long[] ids = new long[3 + i % 6];
            for (int k = 0; k < ids.length; k++) {
                ids[k] = 1 + (i * 7 + k * 3) % (TinyLm.VOCAB - 1);
            }
            ex.add(new Example(ids, ids.clone(), "e" + i));
        }
        DatasetSplit split = DatasetSplit.split(ex, 0.1, 1);
        TinyLm model = new TinyLm(0);
        List<Integer> modelCounts = new ArrayList<>();
        List<Integer> optimizerCounts = new ArrayList<>();
        Trainer[] holder = new Trainer[1];
        TrainingConfig cfg = TrainingConfig.builder(dir).maxSteps(150).batchSize(4).gradientAccumulationSteps(2)
                .maxGradNorm(0.5).evalEvery(25).checkpointEvery(50).keepCheckpoints(1).logEvery(10).seed(1)
                .progressBar(false).build();
        try (Trainer t = Trainer.builder(model, cfg).parameterGroups(model.groups(0.01))
                .trainData(new DataLoader(split.train(), 4, false, 0, 0, true, 2))
                .evalData(new DataLoader(split.eval(), 4, false, 0, 0, false, 0))
                // an auxiliary term built from parameters, as AdaLoRA's regulariser is
                .auxiliaryLoss((ForwardContext ctx) -> Optional.of(model.a.value().square().sum().mul(1e-3f)))
                .afterStep(m -> {
                    modelCounts.add(count(model.manager()));
                    optimizerCounts.add(count(holder[0].optimizer().manager()));
                })
                .build()) {
            holder[0] = t;
            t.train();
        } finally {
            model.close();
        }
        assertThat(modelCounts).hasSize(150);
        int warm = 3;
        assertThat(modelCounts.subList(warm, 150)).as("arrays in the model's manager per step")
                .containsOnly(modelCounts.get(warm));
        assertThat(optimizerCounts.subList(warm, 150)).as("arrays in the optimizer's manager per step")
                .containsOnly(optimizerCounts.get(warm));
        assertThat(optimizerCounts.get(warm)).isEqualTo(2 * 4); // m and v of the 4 trainable tensors
    }

    private static int count(NDManager m) {
        return m.getManagedArrays().size();
    }
}
