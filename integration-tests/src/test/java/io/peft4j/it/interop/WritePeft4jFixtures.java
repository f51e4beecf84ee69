package io.peft4j.it.interop;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.peft4j.core.config.RunConfigParser;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.run.MergedExport;
import io.peft4j.core.run.RunConfigValidator;
import io.peft4j.core.run.RunPlan;
import io.peft4j.core.run.TuningSession;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * Writes the peft4j -> PEFT half of the interop corpus (not part of a normal build): each case trains a few steps on
 * stories260K with the installed plugins, saves the adapter with peft4j's own code into
 * {@code src/test/resources/interop/peft4j-written/<case>/adapter} with a manifest; {@code merged_lora} also merges
 * the LoRA adapter and writes peft4j's merged Hugging Face export. Then
 * {@code tools/interop/generate_fixtures.py --peft4j-written} loads each with PEFT / transformers and writes their
 * logits beside it; {@link HuggingFaceInteropTest} compares peft4j's logits on the same files with those.
 *
 * <pre>
 * mvn -B -q -pl integration-tests -am verify -Dtest=WritePeft4jFixtures -Dsurefire.failIfNoSpecifiedTests=false \
 *     -Dpeft4j.interop.write=true [-Dpeft4j.interop.cases=lora,dora]
 * </pre>
 */
@EnabledIfSystemProperty(named = "peft4j.interop.write", matches = "true")
class WritePeft4jFixtures {
    private static final int STEPS = 8;

    @TempDir
    Path tmp;

    /**
     * name, adapters YAML, output YAML extra, prompt learning (no padded input: PEFT ignores position ids there), the
     * adapters to activate when the directory holds several (null: one adapter).
     */
    private record Case(String name, String adapters, String output, boolean promptLearning, List<String> active) {
        Case(String name, String adapters, String output, boolean promptLearning) {
            this(name, adapters, output, promptLearning, null);
        }
    }

    private static final List<Case> CASES = List.of(
            new Case("lora", "- {name: default, method: lora, r: 4, lora_alpha: 8, target_modules: [q_proj, v_proj, "
                    + "down_proj], rank_pattern: {v_proj: 2}, alpha_pattern: {\"layers.1.self_attn.q_proj\": 16}}",
                    "", false),
            new Case("lora_selection", "- {name: default, method: lora, r: 2, lora_alpha: 4, target_modules: "
                    + "\".*\\\\.(q_proj|up_proj)\", exclude_modules: [layers.1.mlp.up_proj]}", "", false),
            new Case("lora_layers", "- {name: default, method: lora, r: 2, lora_alpha: 4, target_modules: [q_proj, "
                    + "down_proj], layers_to_transform: [1, 4], layers_pattern: layers}", "", false),
            new Case("lora_lm_head", "- {name: default, method: lora, r: 4, lora_alpha: 8, target_modules: [k_proj, "
                    + "lm_head]}", "", false),
            new Case("lora_rslora_bias", "- {name: default, method: lora, r: 2, lora_alpha: 4, use_rslora: true, "
                    + "lora_bias: true, target_modules: all-linear}", "", false),
            new Case("dora", "- {name: default, method: dora, r: 4, lora_alpha: 8, target_modules: [q_proj, v_proj, "
                    + "up_proj]}", "", false),
            new Case("vera", "- {name: default, method: vera, r: 8, target_modules: [q_proj, v_proj, down_proj]}", "",
                    false),
            new Case("adalora", "- {name: default, method: adalora, init_r: 6, target_r: 3, tinit: 1, tfinal: 2, "
                    + "deltaT: 1, total_step: " + STEPS + ", lora_alpha: 6, target_modules: [q_proj, v_proj, "
                    + "down_proj]}", "", false),
            new Case("pissa", "- {name: default, method: lora, initializer: pissa, r: 4, lora_alpha: 8, "
                    + "target_modules: [q_proj, v_proj, up_proj]}", "", false),
            new Case("pissa_converted", "- {name: default, method: lora, initializer: pissa, r: 4, lora_alpha: 8, "
                    + "target_modules: [q_proj, v_proj, up_proj]}", "convert_to_lora: true", false),
            new Case("ia3", "- {name: default, method: ia3, target_modules: [k_proj, v_proj, down_proj], "
                    + "feedforward_modules: [down_proj]}", "", false),
            new Case("prefix_tuning", "- {name: default, method: prefix_tuning, num_virtual_tokens: 4}", "", true),
            new Case("prefix_tuning_projection", "- {name: default, method: prefix_tuning, num_virtual_tokens: 3, "
                    + "prefix_projection: true, encoder_hidden_size: 16}", "", true),
            new Case("prompt_tuning", "- {name: default, method: prompt_tuning, num_virtual_tokens: 5}", "", true),
            new Case("lora_two_adapters", "- {name: default, method: lora, r: 4, lora_alpha: 8, target_modules: "
                    + "[q_proj, v_proj]}\n- {name: second, method: lora, r: 2, lora_alpha: 6, target_modules: [v_proj, "
                    + "down_proj]}", "", false, List.of("default", "second")));

    @Test
    void writeTheCorpus() throws Exception {
        Path root = InteropCase.root().resolve("peft4j-written");
        JsonNode inputs = InteropCase.JSON.readTree(InteropCase.root().resolve("base/manifest.json").toFile())
                .path("inputs");
        try (PluginRuntime rt = PluginRuntime.start(InteropRuntime.pluginsWithIa3(tmp.resolve("plugins")))) {
            for (Case c : CASES) {
                if (!selected(c.name())) {
                    continue;
                }
                String yaml = """
                        model: {path: "bundled:stories260K"}
                        adapters:
                        %s
                        optimizer: {lr: 0.01}
                        training: {steps: %d, batch_size: 8, max_seq_len: 64, warmup_steps: 1, log_every: 1, seed: 5,
                                   progress_bar: false}
                        data: {train: "bundled:demo/train.jsonl", eval: "bundled:demo/eval.jsonl"}
                        output: {dir: "%s"%s}
                        """.formatted(c.adapters().indent(2), STEPS,
                        tmp.resolve(c.name()).toString().replace("\\", "/"),
                        c.output().isEmpty() ? "" : ", " + c.output());
                RunPlan plan = RunConfigValidator.validate(RunConfigParser.parse(yaml, true), rt.extensions());
                Path caseDir = root.resolve(c.name());
                clear(caseDir);
                try (TuningSession s = TuningSession.open(plan, rt.extensions())) {
                    TuningSession.Outcome o = s.train();
                    copy(o.adapterDir(), caseDir.resolve("adapter"));
                    if (c.active() == null) {
                        // A single adapter: the plain PEFT directory (the composition manifest says nothing more).
                        Files.deleteIfExists(caseDir.resolve("adapter").resolve("peft4j.json"));
                    }
                    manifest(caseDir, c.name(), "adapter", "adapter_dir", "adapter", yaml,
                            c.promptLearning() ? inputs.get(0) : null, inputs, c.active());
                    if (c.name().equals("lora")) {
                        Path merged = root.resolve("merged_lora");
                        clear(merged);
                        s.peft().merge("default");
                        MergedExport.write(s.model(), plan.modelDir(), tmp.resolve("merged"));
                        Files.createDirectories(merged.resolve("model"));
                        // The weights and config are what transformers loads; the copied tokenizer files are not.
                        for (String f : List.of("config.json", "model.safetensors")) {
                            Files.copy(tmp.resolve("merged").resolve(f), merged.resolve("model").resolve(f));
                        }
                        manifest(merged, "merged_lora", "merged", "model_dir", "model",
                                yaml + "# then PeftModel.merge(\"default\") and MergedExport.write\n", null, inputs,
                                null);
                    }
                }
            }
        }
        assertThat(root.resolve("merged_lora/model/model.safetensors")).isRegularFile();
        assertThat(CASES.stream().filter(c -> selected(c.name()))).as("cases selected by peft4j.interop.cases")
                .isNotEmpty();
    }

    /** {@code -Dpeft4j.interop.cases=a,b} rewrites only those cases (all by default). */
    private static boolean selected(String name) {
        String only = System.getProperty("peft4j.interop.cases", "");
        return only.isBlank() || List.of(only.split(",")).contains(name);
    }

    private static ObjectNode manifest(Path dir, String name, String kind, String dirKey, String dirValue,
                                       String yaml, JsonNode onlyInput, JsonNode inputs, List<String> active)
            throws IOException {
        ObjectNode m = InteropCase.JSON.createObjectNode();
        m.put("case", name);
        m.put("direction", "peft4j->peft");
        m.put("kind", kind);
        m.put(dirKey, dirValue);
        m.put("expected", "expected.safetensors");
        m.put("atol", 1e-4);
        if (onlyInput != null) {
            m.putArray("inputs").add(onlyInput);
        } else {
            m.set("inputs", inputs);
        }
        if (active != null) {
            active.forEach(m.putArray("active")::add);
        }
        m.put("written_by", WritePeft4jFixtures.class.getName() + " (peft4j's own save / merged export)");
        m.put("peft4j_config", yaml.replaceAll("dir: \"[^\"]*/([^/\"]+)\"", "dir: \"<tmp>/$1\""));
        Files.writeString(dir.resolve("manifest.json"), InteropCase.JSON.copy()
                .enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(m) + "\n");
        return m;
    }

    private static void clear(Path dir) throws IOException {
        if (Files.exists(dir)) {
            try (Stream<Path> s = Files.walk(dir)) {
                for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
        Files.createDirectories(dir);
    }

    private static void copy(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t);
                }
            }
        }
    }
}
