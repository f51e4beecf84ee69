package io.peft4j.it.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.BaseWeight;
import io.peft4j.api.ConfigException;
import io.peft4j.api.PlannedQuantization;
import io.peft4j.core.config.RunConfigParser;
import io.peft4j.core.io.SafetensorsCheckpoint;
import io.peft4j.core.io.SafetensorsWriter;
import io.peft4j.core.model.AdaptableLinear;
import io.peft4j.core.plugin.Configured;
import io.peft4j.core.model.BundledModel;
import io.peft4j.core.model.LlamaModel;
import io.peft4j.core.model.ModelLoadException;
import io.peft4j.core.model.PlatformForwardContext;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.quant.BaseQuantization;
import io.peft4j.core.run.RunConfigValidator;
import io.peft4j.core.run.TuningSession;
import io.peft4j.it.support.Dist;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The streaming loader on a checkpoint laid out as Hugging Face saves bf16 models: stories260K's weights rounded to
 * bf16 and split over two shards with {@code model.safetensors.index.json}, embeddings tied (no lm_head.weight in
 * the files). Loading widens per tensor; quantizing while loading (nf4, the real plugin) must give exactly the model
 * that loading in float32 and quantizing afterwards gives. Also: a config claiming more layers than the weights hold
 * fails naming the field before anything is allocated per layer.
 */
class StreamingLoadTest {
    private static final long[] IDS = {1, 403, 407, 261, 378, 425};
    private static PluginRuntime rt;
    private static NDManager root;

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() {
        rt = PluginRuntime.start(Dist.pluginsDir());
        root = NDManager.newBaseManager();
    }

    @AfterAll
    static void stop() {
        root.close();
        rt.close();
    }

    /** bf16 bits of a float32 value, round to nearest even (as torch's {@code .to(torch.bfloat16)}). */
    private static short bf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        bits += 0x7FFF + ((bits >>> 16) & 1);
        return (short) (bits >>> 16);
    }

    /**
     * Writes stories260K as a two-shard bf16 checkpoint (headers written here, following the safetensors spec) and,
     * beside it, a float32 single-file copy holding exactly the bf16-rounded values.
     *
     * @return {bf16 dir, float32 dir}
     */
    private Path[] writeBf16Sharded() throws IOException {
        Path bf = tmp.resolve("bf16");
        Path f32 = tmp.resolve("f32");
        Files.createDirectories(bf);
        Files.createDirectories(f32);
        Path src = BundledModel.stories260K();
        for (Path d : List.of(bf, f32)) {
            Files.copy(src.resolve("config.json"), d.resolve("config.json"));
            Files.copy(src.resolve("tokenizer.json"), d.resolve("tokenizer.json"));
        }
        Map<String, NDArray> rounded = new LinkedHashMap<>();
        List<Map<String, float[]>> shards = List.of(new LinkedHashMap<>(), new LinkedHashMap<>());
        Map<String, long[]> shapes = new LinkedHashMap<>();
        StringBuilder map = new StringBuilder();
        try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(src)) {
            // config.json ties the embeddings; transformers' save_pretrained then leaves lm_head.weight out.
            List<String> names = new ArrayList<>(ckpt.names());
            names.remove("lm_head.weight");
            int i = 0;
            for (String name : names) {
                float[] v = ckpt.read(name, root).toFloatArray();
                float[] r = new float[v.length];
                for (int k = 0; k < v.length; k++) {
                    r[k] = Float.intBitsToFloat(bf16(v[k]) << 16);
                }
                int shard = i++ < names.size() / 2 ? 0 : 1;
                shards.get(shard).put(name, v);
                shapes.put(name, ckpt.entry(name).shape());
                rounded.put(name, root.create(r, new Shape(ckpt.entry(name).shape())));
                map.append(map.length() == 0 ? "" : ",").append('"').append(name).append("\":\"model-0000")
                        .append(shard + 1).append("-of-00002.safetensors\"");
            }
        }
        for (int s = 0; s < 2; s++) {
            writeBf16(bf.resolve("model-0000" + (s + 1) + "-of-00002.safetensors"), shards.get(s), shapes);
        }
        Files.writeString(bf.resolve(SafetensorsCheckpoint.INDEX_FILE),
                "{\"metadata\":{\"total_size\":0},\"weight_map\":{" + map + "}}");
        SafetensorsWriter.write(f32.resolve("model.safetensors"), rounded);
        rounded.values().forEach(NDArray::close);
        return new Path[] {bf, f32};
    }

    private static void writeBf16(Path file, Map<String, float[]> tensors, Map<String, long[]> shapes)
            throws IOException {
        StringBuilder h = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\"}");
        long off = 0;
        for (Map.Entry<String, float[]> e : tensors.entrySet()) {
            long n = e.getValue().length * 2L;
            h.append(",\"").append(e.getKey()).append("\":{\"dtype\":\"BF16\",\"shape\":")
                    .append(java.util.Arrays.toString(shapes.get(e.getKey())).replace(" ", ""))
                    .append(",\"data_offsets\":[").append(off).append(',').append(off + n).append("]}");
            off += n;
        }
        h.append('}');
        while ((h.length() + 8) % 8 != 0) {
            h.append(' ');
        }
        byte[] hb = h.toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate((int) (8 + hb.length + off)).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(hb.length).put(hb);
        for (float[] v : tensors.values()) {
            for (float x : v) {
                b.putShort(bf16(x));
            }
        }
        Files.write(file, b.array());
    }

    private static float[] logits(LlamaModel model) {
        try (NDManager m = root.newSubManager()) {
            return model.forward(m.create(IDS, new Shape(1, IDS.length)), null, null, PlatformForwardContext.eval(m))
                    .toFloatArray();
        }
    }

    /** The installed nf4 quantizer with {@code options} parsed as {@code quantization.options} are. */
    private static PlannedQuantization<?> nf4(Map<String, Object> options) {
        return Configured.quantization(rt.extensions().quantizer("nf4").orElseThrow(), options,
                "quantization.options");
    }

    @Test
    void bf16ShardedTiedCheckpointLoadsAsItsFloat32Rounding() throws IOException {
        Path[] dirs = writeBf16Sharded();
        try (LlamaModel bf = LlamaModel.load(dirs[0], root); LlamaModel f32 = LlamaModel.load(dirs[1], root)) {
            assertThat(bf.tiedEmbeddings()).isTrue();
            assertThat(logits(bf)).containsExactly(logits(f32));
        }
    }

    @Test
    void quantizingWhileLoadingEqualsQuantizingAfterLoading() throws IOException {
        Path[] dirs = writeBf16Sharded();
        Map<String, Object> opts = Map.of("double_quant", true);
        try (LlamaModel streamed = LlamaModel.load(dirs[0], root, false, null,
                nf4(opts));
             LlamaModel after = LlamaModel.load(dirs[0], root)) {
            BaseQuantization.quantize(after, nf4(opts));
            List<String> quantized = new ArrayList<>();
            for (AdaptableLinear l : streamed.linears().values()) {
                if (l.quantized()) {
                    quantized.add(l.site().path());
                    try (BaseWeight a = l.weight(); BaseWeight b = after.linear(l.site().path()).weight()) {
                        assertThat(a.array().toFloatArray()).as(l.site().path())
                                .containsExactly(b.array().toFloatArray());
                    }
                }
            }
            assertThat(quantized).hasSize(5 * 7).doesNotContain("lm_head");
            assertThat(streamed.linear("lm_head").quantized()).isFalse();
            assertThat(BaseQuantization.stats(streamed).storageBytes())
                    .isEqualTo(BaseQuantization.stats(after).storageBytes());
            assertThat(logits(streamed)).containsExactly(logits(after));
        }
    }

    @Test
    void qloraRunQuantizesWhileLoadingUnlessAnInitializerNeedsTheFloatBase() throws IOException {
        Path[] dirs = writeBf16Sharded();
        String yaml = """
                model: {path: "%s"}
                adapters:
                  - {name: a, method: lora, r: 4, lora_alpha: 8, target_modules: all-linear%s}
                quantization: {method: nf4}
                output: {dir: "%s"}
                """;
        String dir = dirs[0].toString().replace("\\", "/");
        String out = tmp.resolve("out").toString().replace("\\", "/");
        float[] plain;
        float[] pissa;
        try (TuningSession s = TuningSession.open(RunConfigValidator.validate(RunConfigParser.parse(
                yaml.formatted(dir, "", out), true), rt.extensions()), rt.extensions())) {
            assertThat(s.model().linear("model.layers.4.mlp.down_proj").quantized()).isTrue();
            plain = logits(s.model());
        }
        try (LlamaModel after = LlamaModel.load(dirs[0], root)) {
            BaseQuantization.quantize(after, nf4(Map.of()));
            // LoRA's B starts at zero, so the run's logits are the quantized base's.
            assertThat(plain).containsExactly(logits(after));
        }
        // PiSSA decomposes the float weights first: still quantized at the end, after the adapters exist.
        try (TuningSession s = TuningSession.open(RunConfigValidator.validate(RunConfigParser.parse(
                yaml.formatted(dir, ", init_lora_weights: pissa", out), true), rt.extensions()), rt.extensions())) {
            assertThat(s.model().linear("model.layers.4.mlp.down_proj").quantized()).isTrue();
            pissa = logits(s.model());
        }
        assertThat(pissa).isNotEqualTo(plain);
    }

    @Test
    void claimedLayerCountBeyondTheWeightsFailsBeforeAllocating() throws IOException {
        Path dir = tmp.resolve("layers");
        Files.createDirectories(dir);
        Path src = BundledModel.stories260K();
        Files.copy(src.resolve("model.safetensors"), dir.resolve("model.safetensors"));
        Files.copy(src.resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        Files.writeString(dir.resolve("config.json"), Files.readString(src.resolve("config.json"))
                .replace("\"num_hidden_layers\": 5", "\"num_hidden_layers\": 2000000000"));
        assertThat(Files.readString(dir.resolve("config.json"))).contains("2000000000");
        assertThatThrownBy(() -> LlamaModel.load(dir, root)).isInstanceOf(ModelLoadException.class)
                .hasMessageContainingAll(dir.resolve("config.json").toString(), "num_hidden_layers = 2000000000",
                        "hold 5 decoder layers");
        String yaml = """
                model: {path: "%s"}
                adapters:
                  - {name: a, method: lora, r: 4, target_modules: [q_proj]}
                output: {dir: "%s"}
                """.formatted(dir.toString().replace("\\", "/"), tmp.resolve("o").toString().replace("\\", "/"));
        assertThatThrownBy(() -> RunConfigValidator.validate(RunConfigParser.parse(yaml, true), rt.extensions()))
                .isInstanceOf(ConfigException.class).hasMessageContainingAll("num_hidden_layers = 2000000000",
                        "config.json");
    }
}
