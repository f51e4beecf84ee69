package io.peft4j.it.combo;

import static io.peft4j.it.combo.Combos.assertLossFalls;
import static io.peft4j.it.combo.Combos.logits;
import static io.peft4j.it.combo.Combos.maxAbsDiff;
import static org.assertj.core.api.Assertions.assertThat;

import io.peft4j.core.config.RunConfig;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.prune.SparsityReport;
import io.peft4j.core.run.RunConfigValidator;
import io.peft4j.core.run.TuningSession;
import io.peft4j.it.support.Dist;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Prune-then-PEFT and PEFT-then-prune on stories260K: the sparsity is reached and kept through training and merges. */
class PruningEndToEndTest {
    @TempDir
    Path tmp;

    @Test
    void pruneThenLoraKeepsSparsityThroughTrainingAndMerge() throws Exception {
        Path out = tmp.resolve("run");
        try (PluginRuntime rt = PluginRuntime.start(Dist.pluginsDir());
             TuningSession s = TuningSession.open(RunConfigValidator.validate(Combos.run(
                     "- {method: lora, r: 4, lora_alpha: 8, target_modules: [q_proj, v_proj, down_proj]}", 20, 0.005,
                     "pruning: {method: magnitude, sparsity: 0.5}", out), rt.extensions()), rt.extensions())) {
            assertThat(s.sparsity().overall().sparsity()).isEqualTo(0.5);
            TuningSession.Outcome o = s.train();
            assertLossFalls(o.training().losses());
            assertThat(Files.readString(out.resolve("sparsity.json"))).contains("\"overall\" : 0.5");
            SparsityReport afterTraining = s.sparsity();
            assertThat(afterTraining.overall().sparsity()).isEqualTo(0.5);
            afterTraining.perLayer().values().forEach(c -> assertThat(c.sparsity()).isEqualTo(0.5));
            float[] unmerged = logits(s.model());
            s.merge("default");
            assertThat(s.sparsity().overall().sparsity()).as("masks re-applied after the merge").isEqualTo(0.5);
            // The merged model differs from the unmerged one by the updates dropped at pruned positions.
            float[] merged = logits(s.model());
            assertThat(maxAbsDiff(merged, unmerged)).isGreaterThan(0).isFinite();
        }
    }

    @Test
    void peftThenPruneMergedOrKeepingTheAdapter() {
        try (PluginRuntime rt = PluginRuntime.start(Dist.pluginsDir());
             TuningSession s = TuningSession.open(RunConfigValidator.validate(Combos.run(
                     "- {method: lora, r: 4, lora_alpha: 8, target_modules: [q_proj, v_proj]}", 10, 0.005, "",
                     tmp.resolve("a")), rt.extensions()), rt.extensions())) {
            s.train();
            float[] trained = logits(s.model());
            SparsityReport kept = s.pruneAfterPeft(new RunConfig.PruningSection("mlp_channels", 0.25, null, null,
                    null), true);
            assertThat(kept.overall().sparsity()).isCloseTo(0.25, org.assertj.core.api.Assertions.within(0.01));
            assertThat(s.model().linear("model.layers.0.self_attn.q_proj").mergedAdapters()).isEmpty();
            assertThat(maxAbsDiff(logits(s.model()), trained)).isGreaterThan(0);

            SparsityReport merged = s.pruneAfterPeft(new RunConfig.PruningSection("magnitude", 0.4, null,
                    List.of("q_proj", "v_proj"), null), false);
            assertThat(s.model().linear("model.layers.0.self_attn.q_proj").mergedAdapters()).containsExactly("default");
            assertThat(merged.overall().sparsity()).isCloseTo(0.4, org.assertj.core.api.Assertions.within(1e-3));
        }
    }
}
