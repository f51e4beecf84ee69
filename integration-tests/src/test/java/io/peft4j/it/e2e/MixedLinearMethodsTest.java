package io.peft4j.it.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.peft4j.api.SiteInfo;
import io.peft4j.core.config.RunConfig;
import io.peft4j.core.config.RunConfigParser;
import io.peft4j.core.model.PlatformForwardContext;
import io.peft4j.core.peft.AdapterFiles;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.run.RunConfigValidator;
import io.peft4j.core.run.RunPlan;
import io.peft4j.core.run.TuningSession;
import io.peft4j.it.support.Dist;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Different methods on different modules, trained together, saved as ONE artifact and reloaded to identical
 * logits: DoRA with PiSSA initialisation on q/k/v, LoRA on the MLP, VeRA on the attention output projection, LoRA+
 * as the optimizer policy. Hugging Face PEFT cannot save mixed method types in one model; the artifact here is one
 * PEFT-format sub-directory per adapter plus a manifest.
 */
class MixedLinearMethodsTest {
    private static final long[] PROBE = {1, 403, 407, 261, 378, 432, 383};

    @TempDir
    Path tmp;

    private static float[] logits(TuningSession s) {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray ids = m.create(PROBE).reshape(1, PROBE.length);
            return s.model().forward(ids, null, null, PlatformForwardContext.eval(m)).toFloatArray();
        }
    }

    @Test
    void mixedMethodsTrainJointlySaveAsOneArtifactAndReload() throws Exception {
        Path out = tmp.resolve("run");
        RunConfig cfg = RunConfigParser.parse("""
                model: {path: "bundled:stories260K"}
                adapters:
                  - {name: attn, method: dora, initializer: pissa, r: 4, lora_alpha: 4,
                     target_modules: [q_proj, k_proj, v_proj]}
                  - {name: mlp, method: lora, r: 8, lora_alpha: 16, target_modules: [gate_proj, up_proj, down_proj]}
                  - {name: out, method: vera, r: 16, target_modules: [o_proj]}
                optimizer: {lr: 0.002, policy: {id: loraplus, loraplus_lr_ratio: 16}}
                training: {steps: 20, batch_size: 8, max_seq_len: 80, log_every: 5, seed: 3, progress_bar: false}
                data: {train: "bundled:demo/train.jsonl", eval: "bundled:demo/eval.jsonl"}
                output: {dir: "%s"}
                """.formatted(out.toString().replace("\\", "/")), true);
        float[] trained;
        try (PluginRuntime rt = PluginRuntime.start(Dist.pluginsDir())) {
            RunPlan plan = RunConfigValidator.validate(cfg, rt.extensions());
            try (TuningSession s = TuningSession.open(plan, rt.extensions())) {
                assertThat(s.peft().active()).containsExactly("attn", "mlp", "out");
                assertThat(s.peft().adapter("attn").sites()).extracting(SiteInfo::shortName)
                        .containsOnly("q_proj", "k_proj", "v_proj");
                assertThat(s.peft().adapter("out").sites()).extracting(SiteInfo::shortName).containsOnly("o_proj");
                TuningSession.Outcome o = s.train();
                assertThat(o.evalAfter().loss()).isLessThan(o.evalBefore().loss());
                trained = logits(s);
            }
        }
        Path artifact = out.resolve("adapter");
        assertThat(artifact.resolve("peft4j.json")).exists();
        for (String sub : List.of("attn", "mlp", "out")) {
            assertThat(artifact.resolve(sub).resolve("adapter_config.json")).exists();
            assertThat(artifact.resolve(sub).resolve("adapter_model.safetensors")).exists();
        }
        assertThat(Files.readString(artifact.resolve("attn/adapter_config.json"))).contains("\"use_dora\" : true")
                .contains("\"init_lora_weights\" : \"pissa\"");
        assertThat(Files.readString(artifact.resolve("out/adapter_config.json"))).contains("\"peft_type\" : \"VERA\"");

        try (PluginRuntime rt = PluginRuntime.start(Dist.pluginsDir())) {
            RunPlan plan = RunConfigValidator.validate(RunConfigParser.parse("{}", false), rt.extensions());
            try (TuningSession s = TuningSession.open(plan, rt.extensions())) {
                AdapterFiles.Composition c = AdapterFiles.loadComposition(s.peft(), rt.extensions(), artifact, null, 0);
                assertThat(c.names()).containsExactlyInAnyOrder("attn", "mlp", "out");
                s.peft().setActive(c.active());
                assertThat(logits(s)).as("reloaded composition").containsExactly(trained);
            }
        }
    }
}
