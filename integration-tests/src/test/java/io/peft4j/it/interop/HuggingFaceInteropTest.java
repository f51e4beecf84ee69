package io.peft4j.it.interop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.peft4j.api.ConfigException;
import io.peft4j.core.io.SafetensorsReader;
import io.peft4j.core.io.SafetensorsWriter;
import io.peft4j.core.model.BundledModel;
import io.peft4j.core.model.LlamaModel;
import io.peft4j.core.model.TextTokenizer;
import io.peft4j.core.peft.AdapterFiles;
import io.peft4j.core.peft.PeftModel;
import io.peft4j.core.plugin.PluginRuntime;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * peft4j against files the real Hugging Face code wrote or read (tools/interop/generate_fixtures.py, docs/interop.md):
 * every {@code manifest.json} under {@code src/test/resources/interop} is one case, so a new fixture needs no code.
 * Base logits against transformers' LlamaForCausalLM; adapters written by PEFT's {@code save_pretrained}, loaded here
 * through the installed plugins, against PEFT's logits; adapters peft4j wrote, loaded here, against the logits PEFT
 * computed after loading them; peft4j's merged export against transformers' logits on it.
 */
class HuggingFaceInteropTest {
    @TempDir
    static Path tmp;
    private static PluginRuntime runtime;
    private static TextTokenizer tokenizer;

    @BeforeAll
    static void start() throws Exception {
        runtime = PluginRuntime.start(InteropRuntime.pluginsWithIa3(tmp.resolve("plugins")));
        assertThat(runtime.extensions().adapters()).containsKeys("lora", "dora", "vera", "adalora", "ia3",
                "prefix_tuning", "prompt_tuning");
        tokenizer = TextTokenizer.load(BundledModel.stories260K().resolve("tokenizer.json"));
    }

    @AfterAll
    static void stop() {
        if (tokenizer != null) {
            tokenizer.close();
        }
        if (runtime != null) {
            runtime.close();
        }
    }

    @TestFactory
    Stream<DynamicTest> everyFixtureMatchesTheHuggingFaceLogits() {
        List<InteropCase> cases = InteropCase.discover();
        // The corpus must be there: a lost resource directory must not pass as "nothing to compare".
        assertThat(cases.stream().map(InteropCase::name)).contains("base", "lora", "dora", "vera", "adalora",
                "pissa", "pissa_converted", "ia3", "prefix_tuning", "prompt_tuning");
        return cases.stream().map(c -> DynamicTest.dynamicTest(c.name() + " (" + c.direction() + ")", () -> check(c)));
    }

    /**
     * PEFT saves a full copy of lm_head's base weight beside a LoRA on lm_head (save_embedding_layers); the fixture
     * lora_lm_head loads because that copy equals the base. A copy that differs is refused, naming file and key.
     */
    @Test
    void aChangedEmbeddingLayerCopyIsRefusedClearly() throws Exception {
        Path src = InteropCase.root().resolve("lora_lm_head/adapter");
        Path dir = Files.createDirectories(tmp.resolve("changed-lm-head"));
        Files.copy(src.resolve(AdapterFiles.CONFIG_FILE), dir.resolve(AdapterFiles.CONFIG_FILE));
        String key = "base_model.model.lm_head.base_layer.weight";
        try (NDManager m = NDManager.newBaseManager();
             SafetensorsReader r = SafetensorsReader.open(src.resolve(AdapterFiles.WEIGHTS_FILE))) {
            Map<String, NDArray> t = new LinkedHashMap<>(r.readAll(m));
            assertThat(t).containsKey(key);
            t.put(key, t.get(key).add(0.01f));
            SafetensorsWriter.write(dir.resolve(AdapterFiles.WEIGHTS_FILE), t, Map.of("format", "pt"));
            try (LlamaModel model = LlamaModel.load(BundledModel.stories260K(), m, true)) {
                PeftModel peft = InteropRuntime.peft(model, tokenizer, runtime.extensions());
                assertThatThrownBy(() -> AdapterFiles.load(peft, runtime.extensions(), dir, "default", 0))
                        .isInstanceOf(ConfigException.class).hasMessageContaining(key)
                        .hasMessageContaining("save_embedding_layers").hasMessageContaining("differs");
                assertThat(peft.adapters()).isEmpty();
            }
        }
    }

    private static void check(InteropCase c) {
        assertThat(c.expected()).as("reference logits of " + c.name() + " (run tools/interop/generate_fixtures.py)")
                .isRegularFile();
        try (NDManager m = NDManager.newBaseManager()) {
            Path modelDir = c.kind().equals("merged") ? c.modelDir() : BundledModel.stories260K();
            // Writable copies: an initializer such as PiSSA rewrites the base when its adapter is loaded.
            try (LlamaModel model = LlamaModel.load(modelDir, m, true)) {
                if (c.kind().equals("adapter")) {
                    assertThat(Files.isDirectory(c.modelDir())).as(c.modelDir().toString()).isTrue();
                    PeftModel peft = InteropRuntime.peft(model, tokenizer, runtime.extensions());
                    // PEFT's layout: "default" at the top, every other adapter in a sub-directory named after it.
                    List<String> loaded = AdapterFiles.loadComposition(peft, runtime.extensions(), c.modelDir(), null,
                            0).names();
                    peft.setActive(c.active() == null ? loaded : c.active());
                }
                int vocab = model.config().vocabSize();
                for (InteropCase.Input in : c.inputs()) {
                    float[] ours = InteropRuntime.logits(model, in);
                    float[] ref = InteropRuntime.expected(c, in, vocab);
                    double diff = InteropRuntime.maxAbsDiff(ours, ref, in, vocab);
                    System.out.printf(Locale.ROOT, "interop %-36s %-22s %-7s max|dlogit| %.3g%n", c.name(),
                            c.direction(), in.name(), diff);
                    assertThat(diff).as(c.name() + " / " + in.name() + ": max |logit - reference|")
                            .isLessThanOrEqualTo(c.atol());
                }
            }
        }
    }
}
