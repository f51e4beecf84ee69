package io.peft4j.core.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.peft4j.api.SiteInfo;
import io.peft4j.api.SiteKind;
import io.peft4j.core.io.SafetensorsCheckpoint;
import io.peft4j.core.io.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The site list exists once: the loaded model's sites are {@link LlamaSiteLayout#of} of its config, biases
 * included (Qwen2's q/k/v biases come from model_type, as in transformers' {@code Qwen2Attention}), and a
 * checkpoint holding a bias the layout does not have is refused instead of read into a site that claims none.
 */
class LlamaSiteLayoutTest extends BundledModelFixture {

    /** stories260K's tensors plus zero biases on {@code biased} projections, with config.json's model_type set. */
    private Path variant(String name, String modelType, List<String> biased) throws IOException {
        Path dir = tmp.resolve(name);
        Files.createDirectories(dir);
        ObjectMapper json = new ObjectMapper();
        ObjectNode cfg = (ObjectNode) json.readTree(bundled.resolve("config.json").toFile());
        cfg.put("model_type", modelType);
        Files.writeString(dir.resolve("config.json"), json.writeValueAsString(cfg));
        LlamaConfig c = LlamaConfig.load(dir.resolve("config.json"));
        try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(bundled); NDManager m = root.newSubManager()) {
            Map<String, NDArray> t = new LinkedHashMap<>();
            for (String n : ckpt.names()) {
                t.put(n, ckpt.readCopy(n, m));
            }
            for (int i = 0; i < c.numHiddenLayers(); i++) {
                for (String proj : biased) {
                    String p = "model.layers." + i + ".self_attn." + proj;
                    t.put(p + ".bias", m.zeros(new Shape(t.get(p + ".weight").getShape().get(0))));
                }
            }
            SafetensorsWriter.write(dir.resolve("model.safetensors"), t);
        }
        return dir;
    }

    @Test
    void loadedSitesAreTheLayoutsSites() {
        try (LlamaModel model = LlamaModel.load(bundled, root)) {
            assertThat(model.sites()).isEqualTo(LlamaSiteLayout.of(model.config()));
            assertThat(model.sites()).filteredOn(SiteInfo::hasBias).isEmpty();
        }
    }

    @Test
    void qwen2HasQkvBiasesInTheLayoutAndTheLoadedModel() throws IOException {
        float[] plain;
        try (LlamaModel llama = LlamaModel.load(bundled, root)) {
            plain = logits(llama);
        }
        try (LlamaModel qwen = LlamaModel.load(variant("qwen2", "qwen2", List.of("q_proj", "k_proj", "v_proj")),
                root)) {
            List<SiteInfo> layout = LlamaSiteLayout.of(qwen.config());
            assertThat(qwen.sites()).isEqualTo(layout);
            assertThat(layout).filteredOn(SiteInfo::hasBias).extracting(SiteInfo::path)
                    .allMatch(p -> p.matches("model\\.layers\\.\\d+\\.self_attn\\.[qkv]_proj"))
                    .hasSize(3 * qwen.config().numHiddenLayers());
            assertThat(qwen.linear("model.layers.0.self_attn.q_proj").bias()).isPresent();
            assertThat(qwen.linear("model.layers.0.self_attn.o_proj").bias()).isEmpty();
            assertThat(qwen.baseTensors()).containsKey("model.layers.0.self_attn.v_proj.bias");
            // Zero biases: the same function as the llama checkpoint.
            assertThat(logits(qwen)).containsExactly(plain);
        }
        assertThat(LlamaSiteLayout.of(LlamaConfig.load(bundled.resolve("config.json"))))
                .filteredOn(s -> s.kind() == SiteKind.LINEAR).noneMatch(SiteInfo::hasBias);
    }

    @Test
    void aBiasTheConfigDoesNotGiveIsRefused() throws IOException {
        Path dir = variant("llama-with-bias", "llama", List.of("q_proj"));
        assertThatThrownBy(() -> LlamaModel.load(dir, root)).isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("model.layers.0.self_attn.q_proj.bias")
                .hasMessageContaining("attention_bias = false");
    }

    @Test
    void qwen2WithoutItsBiasesNamesTheMissingTensor() throws IOException {
        Path dir = variant("qwen2-no-bias", "qwen2", List.of());
        assertThatThrownBy(() -> LlamaModel.load(dir, root)).isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("weights lack tensor 'model.layers.0.self_attn.q_proj.bias'");
    }
}
