package io.peft4j.core.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.ConfigException;
import io.peft4j.core.io.SafetensorsCheckpoint;
import io.peft4j.core.io.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class LlamaModelLoadingTest extends BundledModelFixture {

    private void copyConfig(Path dir) throws IOException {
        Files.createDirectories(dir);
        Files.copy(bundled.resolve("config.json"), dir.resolve("config.json"));
    }

    @Test
    void shardedCopyGivesIdenticalLogits() throws IOException {
        Path dir = tmp.resolve("sharded");
        copyConfig(dir);
        float[] expected;
        try (LlamaModel model = LlamaModel.load(bundled, root);
             SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(bundled)) {
            expected = logits(model);
            Map<String, NDArray> s1 = new TreeMap<>();
            Map<String, NDArray> s2 = new TreeMap<>();
            StringBuilder index = new StringBuilder("{\"metadata\":{\"total_size\":0},\"weight_map\":{");
            int i = 0;
            for (String name : ckpt.names()) {
                boolean first = i++ % 2 == 0;
                (first ? s1 : s2).put(name, ckpt.read(name, root));
                index.append(i > 1 ? "," : "").append('"').append(name).append("\":\"model-0000")
                        .append(first ? 1 : 2).append("-of-00002.safetensors\"");
            }
            index.append("}}");
            SafetensorsWriter.write(dir.resolve("model-00001-of-00002.safetensors"), s1);
            SafetensorsWriter.write(dir.resolve("model-00002-of-00002.safetensors"), s2);
            Files.writeString(dir.resolve(SafetensorsCheckpoint.INDEX_FILE), index);
        }
        try (LlamaModel sharded = LlamaModel.load(dir, root)) {
            assertThat(logits(sharded)).containsExactly(expected);
        }
    }

    @Test
    void missingDirectoryConfigAndWeights() throws IOException {
        assertThatThrownBy(() -> LlamaModel.load(tmp.resolve("nope"), root)).isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("does not exist");
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        assertThatThrownBy(() -> LlamaModel.load(empty, root)).isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("config.json not found");
        copyConfig(empty);
        assertThatThrownBy(() -> LlamaModel.load(empty, root)).isInstanceOf(ModelLoadException.class)
                .hasMessageContainingAll("model.safetensors", "model.safetensors.index.json");
    }

    @Test
    void missingTensorAndWrongShape() throws IOException {
        Path dir = tmp.resolve("partial");
        copyConfig(dir);
        try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(bundled)) {
            Map<String, NDArray> all = new LinkedHashMap<>();
            for (String n : ckpt.names()) {
                all.put(n, ckpt.read(n, root));
            }
            Map<String, NDArray> missing = new LinkedHashMap<>(all);
            missing.remove("model.layers.3.mlp.up_proj.weight");
            SafetensorsWriter.write(dir.resolve("model.safetensors"), missing);
            assertThatThrownBy(() -> LlamaModel.load(dir, root)).isInstanceOf(ModelLoadException.class)
                    .hasMessageContainingAll("model.layers.3.mlp.up_proj.weight", "lm_head.weight");
            Map<String, NDArray> wrong = new LinkedHashMap<>(all);
            wrong.put("model.layers.1.self_attn.k_proj.weight", root.zeros(new Shape(64, 64)));
            SafetensorsWriter.write(dir.resolve("model.safetensors"), wrong);
            assertThatThrownBy(() -> LlamaModel.load(dir, root)).isInstanceOf(ModelLoadException.class)
                    .hasMessageContainingAll("model.layers.1.self_attn.k_proj.weight", "[64, 64]", "[32, 64]");
        }
    }

    @Test
    void malformedConfig() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("badcfg"));
        Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"llama\", \"hidden_size\": ");
        assertThatThrownBy(() -> LlamaModel.load(dir, root)).isInstanceOf(ConfigException.class)
                .hasMessageContainingAll("config.json", "not valid JSON");
    }

    @Test
    void tiedLmHeadCanBeReplacedWithoutTouchingTheEmbedding() {
        try (LlamaModel model = LlamaModel.load(bundled, root, true)) {
            float[] before = logits(model);
            AdaptableLinear head = model.linear("lm_head");
            head.setWeight(head.rawWeight().mul(1f));   // a copy: unties
            assertThat(model.tiedEmbeddings()).isFalse();
            assertThat(model.baseTensors()).containsKey("lm_head.weight");
            assertThat(logits(model)).containsExactly(before);
        }
    }
}
