package io.peft4j.it.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.peft4j.core.config.RunConfigParser;
import io.peft4j.core.io.SafetensorsWriter;
import io.peft4j.core.model.LlamaModel;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.quant.BaseQuantization;
import io.peft4j.core.quant.QuantizationReport;
import io.peft4j.core.run.RunConfigValidator;
import io.peft4j.core.run.TuningSession;
import io.peft4j.it.support.Dist;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Loading with NF4 quantization keeps no full float32 copy of the linears: a random-weight Llama (4 layers,
 * hidden 1024, intermediate 2816: 51.4M linear parameters, 206 MB in float32) is written with SafetensorsWriter,
 * then opened through a run with {@code quantization: {method: nf4}}. The weights are memory-mapped (file pages,
 * reclaimable, not anonymous memory) and quantized layer by layer, each mapped float weight released once its NF4
 * form exists. Peak resident memory is measured from {@code /proc/self/status} after resetting the high-water mark
 * ({@code /proc/self/clear_refs} = 5), and compared with loading the same model as an in-memory float32 copy.
 */
class QloraMemoryTest {
    private static final int HIDDEN = 1024;
    private static final int INTER = 2816;
    private static final int LAYERS = 4;
    private static final int VOCAB = 512;

    @TempDir
    Path tmp;

    @Test
    void nf4LoadingPeakMemoryAndBitsPerParameter() throws Exception {
        Path dir = writeRandomModel(tmp.resolve("medium"));
        long linearParams = (long) LAYERS * (4L * HIDDEN * HIDDEN + 3L * HIDDEN * INTER);
        long fp32LinearBytes = 4 * linearParams;
        String yaml = """
                model: {path: "%s"}
                adapters: []
                quantization: {method: nf4}
                output: {dir: "%s"}
                """.formatted(dir.toString().replace("\\", "/"), tmp.resolve("out").toString().replace("\\", "/"));
        Mem nf4;
        QuantizationReport st;
        long t0;
        double loadSeconds;
        try (PluginRuntime rt = PluginRuntime.start(Dist.pluginsDir())) {
            var plan = RunConfigValidator.validate(RunConfigParser.parse(yaml, true), rt.extensions());
            Mem before = Mem.resetPeak();
            t0 = System.nanoTime();
            try (TuningSession s = TuningSession.open(plan, rt.extensions())) {
                loadSeconds = (System.nanoTime() - t0) / 1e9;
                nf4 = Mem.now().minus(before);
                st = BaseQuantization.stats(s.model());
            }
        }
        Mem fp32;
        try (NDManager m = NDManager.newBaseManager()) {
            Mem before = Mem.resetPeak();
            try (LlamaModel model = LlamaModel.load(dir, m, true)) {
                fp32 = Mem.now().minus(before);
                assertThat(model.linear("model.layers.0.mlp.up_proj").quantized()).isFalse();
            }
        }
        assertThat(st.parameters()).isEqualTo(linearParams);
        assertThat(st.linears()).isEqualTo(LAYERS * 7);
        assertThat(st.bitsPerParameter()).isBetween(4.12, 4.13);
        System.out.println(String.format(Locale.ROOT, "QLORA_JSON {\"case\":\"load_nf4_medium\",\"layers\":%d,"
                        + "\"hidden\":%d,\"intermediate\":%d,\"linear_params\":%d,\"fp32_linear_bytes\":%d,"
                        + "\"nf4_storage_bytes\":%d,\"bits_per_param\":%.4f,\"bytes_per_param\":%.4f,"
                        + "\"load_quantize_s\":%.2f,\"peak_reset\":%s,"
                        + "\"nf4_peak_rss_delta\":%d,\"nf4_rss_anon_delta\":%d,\"nf4_rss_file_delta\":%d,"
                        + "\"fp32_copy_peak_rss_delta\":%d,\"fp32_copy_rss_anon_delta\":%d}",
                LAYERS, HIDDEN, INTER, linearParams, fp32LinearBytes, st.storageBytes(), st.bitsPerParameter(),
                st.bitsPerParameter() / 8, loadSeconds, Mem.peakResettable, nf4.peak, nf4.anon, nf4.file,
                fp32.peak, fp32.anon));
        // No full float32 copy in anonymous memory: the NF4 model plus per-layer temporaries stay well below it.
        assertThat(nf4.anon).as("anonymous memory after NF4 load").isLessThan(fp32LinearBytes / 2);
        assertThat(fp32.peak).as("the in-memory float32 load, for contrast").isGreaterThan(fp32LinearBytes * 9 / 10);
        assertThat(nf4.peak).as("peak while loading NF4 vs float32").isLessThan(fp32.peak);
    }

    /** Writes config.json, tokenizer.json (stories260K's, 512 tokens) and random float32 weights. */
    static Path writeRandomModel(Path dir) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), """
                {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": %d,
                 "intermediate_size": %d, "num_attention_heads": 16, "num_key_value_heads": 16,
                 "num_hidden_layers": %d, "head_dim": 64, "vocab_size": %d, "max_position_embeddings": 512,
                 "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "hidden_act": "silu", "tie_word_embeddings": true,
                 "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float32"}
                """.formatted(HIDDEN, INTER, LAYERS, VOCAB));
        Files.copy(Path.of("../platform-core/src/main/resources/io/peft4j/bundled/stories260K/tokenizer.json"),
                dir.resolve("tokenizer.json"));
        Engine.getInstance().setRandomSeed(11);
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> t = new LinkedHashMap<>();
            t.put("model.embed_tokens.weight", m.randomNormal(0, 0.02f, new Shape(VOCAB, HIDDEN), ai.djl.ndarray.types.DataType.FLOAT32));
            for (int i = 0; i < LAYERS; i++) {
                String p = "model.layers." + i;
                t.put(p + ".input_layernorm.weight", m.ones(new Shape(HIDDEN)));
                for (String n : List.of("q_proj", "k_proj", "v_proj", "o_proj")) {
                    t.put(p + ".self_attn." + n + ".weight", rnd(m, HIDDEN, HIDDEN));
                }
                t.put(p + ".post_attention_layernorm.weight", m.ones(new Shape(HIDDEN)));
                t.put(p + ".mlp.gate_proj.weight", rnd(m, INTER, HIDDEN));
                t.put(p + ".mlp.up_proj.weight", rnd(m, INTER, HIDDEN));
                t.put(p + ".mlp.down_proj.weight", rnd(m, HIDDEN, INTER));
            }
            t.put("model.norm.weight", m.ones(new Shape(HIDDEN)));
            SafetensorsWriter.write(dir.resolve("model.safetensors"), t);
        }
        System.gc();
        return dir;
    }

    private static NDArray rnd(NDManager m, int out, int in) {
        return m.randomNormal(0, 0.02f, new Shape(out, in), ai.djl.ndarray.types.DataType.FLOAT32);
    }

    /** Resident memory from /proc/self/status: peak (VmHWM), anonymous and file-backed parts, in bytes. */
    record Mem(long peak, long anon, long file) {
        static boolean peakResettable = true;

        static Mem resetPeak() throws IOException {
            System.gc();
            try {
                Files.writeString(Path.of("/proc/self/clear_refs"), "5");   // resets VmHWM to the current VmRSS
            } catch (IOException | SecurityException e) {
                peakResettable = false;
            }
            return now();
        }

        static Mem now() throws IOException {
            String s = Files.readString(Path.of("/proc/self/status"));
            return new Mem(field(s, "VmHWM"), field(s, "RssAnon"), field(s, "RssFile"));
        }

        /** Growth since {@code base}; the peak as growth over base's resident size (anon + file). */
        Mem minus(Mem base) {
            return new Mem(peak - (base.anon + base.file), anon - base.anon, file - base.file);
        }

        static long field(String status, String name) {
            for (String line : status.split("\n")) {
                if (line.startsWith(name + ":")) {
                    return Long.parseLong(line.substring(name.length() + 1).trim().split("\\s+")[0]) * 1024;
                }
            }
            return -1;
        }
    }
}
