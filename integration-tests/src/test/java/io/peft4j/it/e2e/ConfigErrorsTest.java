package io.peft4j.it.e2e;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.peft4j.api.ConfigException;
import io.peft4j.core.config.RunConfigParser;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.run.RunConfigValidator;
import io.peft4j.it.support.Dist;
import io.peft4j.it.support.Runs;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bad configurations are rejected before any tensor exists, naming the field and what was expected. */
class ConfigErrorsTest {
    private static PluginRuntime rt;

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() {
        rt = PluginRuntime.start(Dist.pluginsDir());
    }

    @AfterAll
    static void stop() {
        rt.close();
    }

    private void reject(String adapterYaml, String... fragments) {
        var t = assertThatThrownBy(() -> RunConfigValidator.validate(Runs.yaml(adapterYaml, 1, tmp), rt.extensions()))
                .isInstanceOf(ConfigException.class);
        for (String f : fragments) {
            t.hasMessageContaining(f);
        }
    }

    @Test
    void unknownMethodListsInstalledOnes() {
        reject("- {method: lorra}", "adapters[0].method", "did you mean 'lora'", "installed methods: [", "lora");
    }

    @Test
    void methodsThatCannotStackOnOneModuleAreRejected() {
        reject("""
                - {name: a, method: dora, target_modules: [q_proj]}
                - {name: b, method: lora, target_modules: [q_proj, v_proj]}""", "cannot stack",
                "model.layers.0.self_attn.q_proj");
    }

    @Test
    void unknownOptionNamesTheNearestValidKey() {
        reject("- {method: lora, lora_alfa: 16}", "adapters[0].lora_alfa", "did you mean 'lora_alpha'");
    }

    @Test
    void targetThatMatchesNothingListsCloseModuleNames() {
        reject("- {method: lora, target_modules: [q_prj]}", "adapters[0].target_modules", "q_proj");
    }

    @Test
    void baseTrainingOptionsPeftHasAreRefusedWhereTheyWouldTrainSomething() {
        reject("- {method: lora, modules_to_save: [lm_head]}", "adapters[0].modules_to_save", "not supported");
        reject("- {method: dora, modules_to_save: [embed_tokens]}", "adapters[0].modules_to_save");
        // stories260K has no linear biases, so bias: all / lora_only select nothing (in PEFT too) and are accepted.
        RunConfigValidator.validate(Runs.yaml("- {method: lora, bias: all}", 1, tmp), rt.extensions());
        RunConfigValidator.validate(Runs.yaml("- {method: lora, bias: lora_only}", 1, tmp), rt.extensions());
    }

    @Test
    void wrongTypeNamesTheField() {
        reject("- {method: lora, r: many}", "adapters[0].r", "expected a whole number", "got the text \"many\"");
        var bool = assertThatThrownBy(() -> RunConfigValidator.validate(Runs.yaml(
                "- {method: lora, use_rslora: sometimes}", 1, tmp), rt.extensions()))
                .isInstanceOf(ConfigException.class).hasMessageContaining("adapters[0].use_rslora")
                .hasMessageContaining("expected true or false");
        bool.message().doesNotContain("java.", "Cannot deserialize", "`");
    }

    @Test
    void unknownInitializerIsRejected() {
        reject("- {method: lora, initializer: corda}", "adapters[0].initializer", "corda");
    }

    @Test
    void topLevelTyposAndRanges() {
        assertThatThrownBy(() -> RunConfigParser.parse("trainig: {steps: 3}", true))
                .hasMessageContaining("trainig").hasMessageContaining("did you mean 'training'");
        assertThatThrownBy(() -> RunConfigParser.parse("training: {batch_size: 0}", true))
                .hasMessageContaining("training.batch_size");
        assertThatThrownBy(() -> RunConfigParser.parse("optimizer: {lr: -1}", true))
                .hasMessageContaining("optimizer.lr");
        assertThatThrownBy(() -> RunConfigParser.parse("model: [", true)).hasMessageContaining("YAML");
    }

    @Test
    void missingModelDirectoryAndDataFile() {
        assertThatThrownBy(() -> RunConfigValidator.validate(RunConfigParser.parse(
                "model: {path: /nonexistent/model}", true), rt.extensions()))
                .hasMessageContaining("model.path").hasMessageContaining("/nonexistent/model");
        assertThatThrownBy(() -> RunConfigValidator.validate(RunConfigParser.parse(
                "data: {train: /nonexistent/train.jsonl}", true), rt.extensions()))
                .hasMessageContaining("data.train");
    }

    @Test
    void cudaFailsClearlyWithoutAGpuAndAutoFallsBackToCpu() {
        assertThatThrownBy(() -> RunConfigValidator.validate(RunConfigParser.parse(
                "model: {device: cuda}", true), rt.extensions()))
                .hasMessageContaining("model.device").hasMessageContaining("CUDA");
        RunConfigValidator.validate(RunConfigParser.parse("model: {device: auto}", true), rt.extensions());
        assertThatThrownBy(() -> RunConfigValidator.validate(RunConfigParser.parse(
                "model: {device: tpu}", true), rt.extensions())).hasMessageContaining("model.device");
    }

    @Test
    void sequenceLongerThanTheContextIsRejected() {
        assertThatThrownBy(() -> RunConfigValidator.validate(RunConfigParser.parse(
                "training: {max_seq_len: 4096}", true), rt.extensions()))
                .hasMessageContaining("training.max_seq_len").hasMessageContaining("512");
    }
}
