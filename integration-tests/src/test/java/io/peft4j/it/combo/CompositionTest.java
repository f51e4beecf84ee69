package io.peft4j.it.combo;

import static io.peft4j.it.combo.Combos.assertLossFalls;
import static io.peft4j.it.combo.Combos.logits;
import static io.peft4j.it.combo.Combos.maxAbsDiff;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.peft4j.api.ConfigException;
import io.peft4j.core.config.RunConfig;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.run.RunConfigValidator;
import io.peft4j.core.run.RunPlan;
import io.peft4j.core.run.TuningSession;
import io.peft4j.it.support.Dist;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One configuration combining LoRA on q/v, a bottleneck adapter after the MLP and 8 prefix tokens, on an NF4 base:
 * trains, saves every adapter (default at the top level, the others in sub-directories), reloads to identical logits;
 * the KV cache gives the same logits as a full recompute with all three (plus a prompt) active.
 */
class CompositionTest {
    static final String THREE = """
            - {name: default, method: lora, r: 4, lora_alpha: 8, target_modules: [q_proj, v_proj]}
            - {name: ffn, method: bottleneck, adapter_placement: [mlp], bottleneck_size: 8}
            - {name: prefix, method: prefix_tuning, num_virtual_tokens: 8}
            """;
    static final String NF4 = "quantization: {method: nf4}";

    @TempDir
    Path tmp;

    @Test
    void loraBottleneckPrefixOnNf4TrainsSavesAndReloads() {
        Path out = tmp.resolve("run");
        float[] trained;
        try (PluginRuntime rt = PluginRuntime.start(Dist.pluginsDir())) {
            RunPlan plan = RunConfigValidator.validate(Combos.run(THREE, 20, 0.01, NF4, out), rt.extensions());
            try (TuningSession s = TuningSession.open(plan, rt.extensions())) {
                assertThat(s.peft().active()).containsExactly("default", "ffn", "prefix");
                assertThat(s.model().linear("model.layers.0.self_attn.q_proj").quantized()).isTrue();
                TuningSession.Outcome o = s.train();
                assertLossFalls(o.training().losses());
                assertThat(o.evalAfter().loss()).isLessThan(o.evalBefore().loss());
                trained = logits(s.model());
                // Non-linear adapters are refused by merge with a reason.
                assertThatThrownBy(() -> s.peft().merge("ffn")).isInstanceOf(ConfigException.class)
                        .hasMessageContaining("cannot be merged");
            }
        }
        Path dir = out.resolve("adapter");
        assertThat(dir.resolve("adapter_config.json")).exists();
        assertThat(dir.resolve("ffn/adapter_model.safetensors")).exists();
        assertThat(dir.resolve("prefix/adapter_config.json")).exists();
        try (PluginRuntime rt = PluginRuntime.start(Dist.pluginsDir());
             TuningSession s = TuningSession.open(RunConfigValidator.validate(Combos.run("[]", 1, 0.01, NF4,
                     tmp.resolve("bare")), rt.extensions()), rt.extensions())) {
            assertThat(Combos.loadAll(s, rt.extensions(), dir)).containsExactlyInAnyOrder("default", "ffn", "prefix");
            s.peft().setActive(List.of("default", "ffn", "prefix"));
            assertThat(logits(s.model())).as("reloaded composition").containsExactly(trained);
        }
    }

    @Test
    void kvCacheEqualsFullRecomputeWithPrefixPromptBottleneckAndLora() {
        String four = THREE + "- {name: prompt, method: prompt_tuning, num_virtual_tokens: 3}\n";
        try (PluginRuntime rt = PluginRuntime.start(Dist.pluginsDir());
             TuningSession s = TuningSession.open(RunConfigValidator.validate(Combos.run(four, 1, 0.01, "",
                     tmp.resolve("kv")), rt.extensions()), rt.extensions())) {
            // Make every adapter non-trivial: random prefix/prompt already are; give LoRA B and the bottleneck's up
            // projection values.
            s.peft().trainableParameters().forEach(p -> {
                if (p.name().contains("lora_B") || p.name().contains("adapter_up")) {
                    p.value().set(new ai.djl.ndarray.index.NDIndex("..."), 0.05f);
                }
            });
            int vocab = s.model().config().vocabSize();
            float[] full = logits(s.model());
            for (int prefill : new int[] {1, 4}) {
                float[][] steps = Combos.cachedSteps(s.model(), prefill);
                for (int i = 0; i < steps.length; i++) {
                    int pos = prefill - 1 + i;
                    float[] expected = java.util.Arrays.copyOfRange(full, pos * vocab, (pos + 1) * vocab);
                    assertThat(maxAbsDiff(steps[i], expected)).as("prefill %d, position %d", prefill, pos)
                            .isLessThan(1e-4);
                }
            }
        }
    }

    @Test
    void invalidCombinationsAreRejectedBeforeTrainingWithAReason() {
        try (PluginRuntime rt = PluginRuntime.start(Dist.pluginsDir())) {
            // 8 prefix + 8 prompt tokens + 500 tokens do not fit into 512 positions.
            RunConfig tooLong = Combos.run("""
                    - {name: prefix, method: prefix_tuning, num_virtual_tokens: 8}
                    - {name: prompt, method: prompt_tuning, num_virtual_tokens: 8}
                    """, 1, 0.01, "", tmp.resolve("x")).withPruning(null);
            RunConfig.TrainingSection t = tooLong.training();
            RunConfig longSeq = new RunConfig(tooLong.model(), tooLong.quantization(), tooLong.adapters(),
                    tooLong.optimizer(), new RunConfig.TrainingSection(1, null, 8, 1, null, 0, 500, null, null, null,
                    null, null, null, 7L, false, null, null, null, null, null), tooLong.data(), tooLong.output());
            assertThatThrownBy(() -> RunConfigValidator.validate(longSeq, rt.extensions()))
                    .isInstanceOf(ConfigException.class).hasMessageContaining("training.max_seq_len")
                    .hasMessageContaining("16 virtual/prefix tokens").hasMessageContaining("max_position_embeddings = 512");
            // PEFT-then-prune with merging needs every active adapter to be mergeable.
            try (TuningSession s = TuningSession.open(RunConfigValidator.validate(Combos.run(THREE, 1, 0.01, "",
                    tmp.resolve("y")), rt.extensions()), rt.extensions())) {
                assertThatThrownBy(() -> s.pruneAfterPeft(new RunConfig.PruningSection("magnitude", 0.5, null, null,
                        null), false)).isInstanceOf(ConfigException.class).hasMessageContaining("adapter 'ffn'")
                        .hasMessageContaining("cannot be merged");
                assertThat(s.model().linear("model.layers.0.self_attn.q_proj").mergedAdapters()).isEmpty();
            }
        }
    }
}
