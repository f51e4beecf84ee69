package io.peft4j.it.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peft4j.api.ConfigException;
import io.peft4j.core.plugin.Configured;
import io.peft4j.core.cli.Main;
import io.peft4j.core.config.RunConfig;
import io.peft4j.core.config.RunConfigParser;
import io.peft4j.core.io.SafetensorsCheckpoint;
import io.peft4j.core.io.SafetensorsWriter;
import io.peft4j.core.model.AdaptableLinear;
import io.peft4j.core.model.LlamaModel;
import io.peft4j.core.model.ModelLoadException;
import io.peft4j.core.peft.AdapterFiles;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.quant.BaseQuantization;
import io.peft4j.core.quant.MergeReport;
import io.peft4j.core.quant.QuantizationReport;
import io.peft4j.core.quant.QuantizedExport;
import io.peft4j.core.run.RunConfigValidator;
import io.peft4j.core.run.TuningSession;
import io.peft4j.cuda.DeviceStats;
import io.peft4j.it.support.Dist;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * QLoRA end to end on stories260K (spec §7): adapters train on an NF4 base; a LoRA adapter saved from an NF4 run
 * reloads onto a freshly quantized base with identical logits; merging into the NF4 base re-quantizes and reports
 * its error; the quantized model round-trips through a bitsandbytes-layout checkpoint; "PEFT, then quantize" to NF4
 * and int8; configuration and checkpoint errors. Numbers for the report are printed as {@code QLORA_JSON} lines.
 */
class QloraTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String LORA = "- {name: default, method: lora, r: 4, lora_alpha: 8, "
            + "target_modules: [q_proj, v_proj, down_proj]}";
    private static PluginRuntime rt;

    @TempDir
    static Path tmp;

    @BeforeAll
    static void start() {
        rt = PluginRuntime.start(Dist.pluginsDir());
        assertThat(rt.extensions().quantizers()).containsKeys("nf4", "int8");
    }

    @AfterAll
    static void stop() {
        rt.close();
    }

    /** A run on {@code model} with {@code adapters}; {@code quant} is a YAML flow map or null. */
    static RunConfig run(String model, String adapters, String quant, int steps, Path out) {
        String yaml = """
                model: {path: "%s"}
                adapters:
                %s
                %s
                optimizer: {lr: 0.005}
                training: {steps: %d, batch_size: 8, max_seq_len: 80, warmup_steps: 2, log_every: 1, seed: 7,
                           progress_bar: false}
                data: {train: "bundled:demo/train.jsonl", eval: "bundled:demo/eval.jsonl"}
                output: {dir: "%s"}
                """.formatted(model, adapters.indent(2), quant == null ? "" : "quantization: " + quant, steps,
                out.toString().replace("\\", "/"));
        return RunConfigParser.parse(yaml, true);
    }

    static TuningSession open(RunConfig cfg) {
        return TuningSession.open(RunConfigValidator.validate(cfg, rt.extensions()), rt.extensions());
    }

    static float[] logits(TuningSession s) {
        return BaseQuantization.logits(s.model(), s.probe());
    }

    static void assertFalls(List<Double> losses, String what) {
        assertFalls(losses, what, 0.85);
    }

    static void assertFalls(List<Double> losses, String what, double factor) {
        int k = Math.max(1, losses.size() / 5);
        double first = losses.subList(0, k).stream().mapToDouble(d -> d).average().orElseThrow();
        double last = losses.subList(losses.size() - k, losses.size()).stream().mapToDouble(d -> d).average()
                .orElseThrow();
        assertThat(last).as(what + ": training loss falls " + losses).isLessThan(first * factor);
    }

    static void report(String json) {
        System.out.println("QLORA_JSON " + json);
    }

    @Test
    void loraOnNf4BaseTrainsReloadsMergesExportsAndReloadsTheQuantizedCheckpoint() throws Exception {
        Path out = tmp.resolve("qlora");
        float[] trained;
        try (TuningSession s = open(run("bundled:stories260K", LORA, "{method: nf4}", 25, out))) {
            for (AdaptableLinear l : s.model().linears().values()) {
                assertThat(l.quantized()).as(l.site().path()).isEqualTo(!l.site().path().equals("lm_head"));
            }
            QuantizationReport st = BaseQuantization.stats(s.model());
            assertThat(st.linears()).isEqualTo(5 * 7);
            // 64x64 / 172x64 weights: 4 bits + 8 bits per 64-block absmax + the nested statistics per weight.
            assertThat(st.bitsPerParameter()).isBetween(4.125, 4.2);
            TuningSession.Outcome o = s.train();
            assertFalls(o.training().losses(), "LoRA on NF4");
            assertThat(o.evalAfter().loss()).isLessThan(o.evalBefore().loss());
            trained = logits(s);
        }

        // A freshly quantized base (quantization is deterministic) plus the saved adapter: identical logits.
        Path mergedDir = tmp.resolve("qlora-merged-nf4");
        float[] merged;
        MergeReport mr;
        try (TuningSession s = open(run("bundled:stories260K", "[]", "{method: nf4}", 1, tmp.resolve("b")))) {
            AdapterFiles.load(s.peft(), rt.extensions(), out.resolve("adapter"), "default", 0);
            s.peft().setActive(List.of("default"));
            assertThat(logits(s)).as("reloaded onto a fresh NF4 base").containsExactly(trained);

            // Merge into the NF4 base: dequantize, add ΔW, re-quantize. Lossy, and reported.
            mr = s.mergeAndReport(List.of("default"));
            assertThat(mr.requantizedLinears()).isEqualTo(15);
            assertThat(mr.change().maxAbs()).as("re-quantization changes the outputs").isGreaterThan(0);
            assertThat(mr.change().meanAbs()).as("but stays small against the logits")
                    .isLessThan(0.1 * mr.change().maxAbsLogit());
            merged = logits(s);
            assertThat(BaseQuantization.stats(s.model()).linears()).isEqualTo(35);
            QuantizedExport.write(s.model(), s.plan().modelDir(), mergedDir);
        }
        report(String.format(Locale.ROOT, "{\"case\":\"merge_into_nf4\",\"requantized_linears\":%d,"
                        + "\"logit_change_max\":%.6g,\"logit_change_mean\":%.6g,\"max_abs_logit\":%.4g}",
                mr.requantizedLinears(), mr.change().maxAbs(), mr.change().meanAbs(), mr.change().maxAbsLogit()));

        // The checkpoint is in the bitsandbytes / transformers layout.
        JsonNode cfg = JSON.readTree(mergedDir.resolve("config.json").toFile());
        JsonNode qc = cfg.get("quantization_config");
        assertThat(qc.get("quant_method").asText()).isEqualTo("bitsandbytes");
        assertThat(qc.get("load_in_4bit").asBoolean()).isTrue();
        assertThat(qc.get("bnb_4bit_quant_type").asText()).isEqualTo("nf4");
        assertThat(qc.get("bnb_4bit_use_double_quant").asBoolean()).isTrue();
        assertThat(qc.get("bnb_4bit_compute_dtype").asText()).isEqualTo("float32");
        String p = "model.layers.2.mlp.down_proj.weight";
        try (SafetensorsCheckpoint ck = SafetensorsCheckpoint.open(mergedDir)) {
            assertThat(ck.names()).contains(p, p + ".absmax", p + ".quant_map", p + ".nested_absmax",
                    p + ".nested_quant_map", p + ".quant_state.bitsandbytes__nf4", "model.embed_tokens.weight",
                    "model.norm.weight", "model.layers.2.input_layernorm.weight");
            assertThat(ck.entry(p).dtype().name()).isEqualTo("U8");
            assertThat(ck.entry(p).shape()).containsExactly(172 * 64 / 2, 1);
            assertThat(ck.entry(p + ".absmax").dtype().name()).isEqualTo("U8");
            assertThat(ck.names()).doesNotContain("lm_head.weight");
        }

        // Loading it: the loader hands uint8 weights to the installed quantizers; nothing is re-quantized.
        try (TuningSession s = open(run(mergedDir.toString(), "[]", null, 1, tmp.resolve("c")))) {
            assertThat(BaseQuantization.stats(s.model()).linears()).isEqualTo(35);
            assertThat(s.model().linear(p.replace(".weight", "")).quantizer().id()).isEqualTo("nf4");
            assertThat(logits(s)).as("quantized checkpoint round trip").containsExactly(merged);
        }
        // Without a resolver the loader says what is needed.
        try (NDManager m = NDManager.newBaseManager()) {
            assertThatThrownBy(() -> LlamaModel.load(mergedDir, m)).isInstanceOf(ModelLoadException.class)
                    .hasMessageContaining("model.safetensors").hasMessageContaining("quantized checkpoint");
        }
    }

    @Test
    void doraAndVeraTrainOnAnNf4Base() {
        for (String a : List.of(
                "- {name: default, method: dora, r: 4, lora_alpha: 8, target_modules: [q_proj, v_proj]}",
                "- {name: default, method: vera, r: 16, target_modules: [gate_proj, up_proj]}")) {
            Path out = tmp.resolve("m" + Math.abs(a.hashCode()));
            try (TuningSession s = open(run("bundled:stories260K", a, "{method: nf4}", 20, out))) {
                assertThat(BaseQuantization.stats(s.model()).linears()).isEqualTo(35);
                TuningSession.Outcome o = s.train();
                // VeRA trains few parameters (scaling vectors only) and learns slowly at this learning rate.
                assertFalls(o.training().losses(), a, a.contains("vera") ? 0.98 : 0.85);
                assertThat(o.evalAfter().loss()).isLessThan(o.evalBefore().loss());
            }
        }
    }

    /** LoRA on an fp32 vs an NF4 base, same data and steps: eval loss, throughput, resident memory. */
    @Test
    void qloraVersusLoraNumbers() {
        Map<String, TuningSession.Outcome> outcomes = new LinkedHashMap<>();
        Map<String, DeviceStats> mem = new LinkedHashMap<>();
        for (String q : new String[] {null, "{method: nf4}"}) {
            String key = q == null ? "fp32" : "nf4";
            try (TuningSession s = open(run("bundled:stories260K", LORA, q, 20, tmp.resolve("cmp-" + key)))) {
                outcomes.put(key, s.train());
                mem.put(key, DeviceStats.cpuProcess());
            }
        }
        TuningSession.Outcome f = outcomes.get("fp32");
        TuningSession.Outcome n = outcomes.get("nf4");
        assertFalls(f.training().losses(), "LoRA fp32");
        assertFalls(n.training().losses(), "LoRA nf4");
        report(String.format(Locale.ROOT, "{\"case\":\"lora_fp32_vs_nf4\",\"model\":\"stories260K\",\"steps\":20,"
                        + "\"eval_loss_fp32\":%.5f,\"eval_loss_nf4\":%.5f,\"eval_loss_diff\":%.5f,"
                        + "\"eval_loss_before_fp32\":%.5f,\"eval_loss_before_nf4\":%.5f,"
                        + "\"tokens_per_s_fp32\":%.1f,\"tokens_per_s_nf4\":%.1f,"
                        + "\"rss_bytes_fp32\":%d,\"rss_bytes_nf4\":%d}",
                f.evalAfter().loss(), n.evalAfter().loss(), n.evalAfter().loss() - f.evalAfter().loss(),
                f.evalBefore().loss(), n.evalBefore().loss(), f.tokensPerSecond(), n.tokensPerSecond(),
                mem.get("fp32").usedBytes(), mem.get("nf4").usedBytes()));
        // Not asserted tightly: NF4 on a 260K-parameter model with 64-wide rows is a coarse approximation.
        assertThat(Math.abs(n.evalAfter().loss() - f.evalAfter().loss())).isLessThan(1.0);
    }

    /** "PEFT, then quantize": merge in float32, then export NF4 and int8, reporting size and output error. */
    @Test
    void postMergeQuantizationToNf4AndInt8() throws Exception {
        Path out = tmp.resolve("pm");
        try (TuningSession s = open(run("bundled:stories260K", LORA, null, 10, out))) {
            s.train();
        }
        Map<String, QuantizationReport> reports = new LinkedHashMap<>();
        for (String method : List.of("nf4", "int8")) {
            Path dir = tmp.resolve("pm-" + method);
            float[] quantizedLogits;
            try (TuningSession s = open(run("bundled:stories260K", "[]", null, 1, tmp.resolve("pmb")))) {
                AdapterFiles.load(s.peft(), rt.extensions(), out.resolve("adapter"), "default", 0);
                MergeReport mr = s.mergeAndReport(List.of("default"));
                assertThat(mr.requantizedLinears()).isZero();
                assertThat(mr.change().maxAbs()).isLessThan(1e-4);
                QuantizationReport qr = BaseQuantization.quantizeAndReport(s.model(), Configured.quantization(
                        rt.extensions().quantizer(method).orElseThrow(), Map.of(), "--quantize"), s.probe());
                reports.put(method, qr);
                quantizedLogits = logits(s);
                QuantizedExport.write(s.model(), s.plan().modelDir(), dir);
            }
            long fileBytes = Files.size(dir.resolve("model.safetensors"));
            report(String.format(Locale.ROOT, "{\"case\":\"post_merge_%s\",\"linears\":%d,\"params\":%d,"
                            + "\"storage_bytes\":%d,\"bits_per_param\":%.4f,\"file_bytes\":%d,"
                            + "\"logit_change_max\":%.6g,\"logit_change_mean\":%.6g}", method, qr(reports, method)
                            .linears(), qr(reports, method).parameters(), qr(reports, method).storageBytes(),
                    qr(reports, method).bitsPerParameter(), fileBytes, qr(reports, method).change().maxAbs(),
                    qr(reports, method).change().meanAbs()));
            try (TuningSession s = open(run(dir.toString(), "[]", null, 1, tmp.resolve("pmc")))) {
                assertThat(logits(s)).as(method + " checkpoint round trip").containsExactly(quantizedLogits);
            }
        }
        assertThat(reports.get("nf4").bitsPerParameter()).isBetween(4.1, 4.2);
        assertThat(reports.get("int8").bitsPerParameter()).isBetween(8.1, 8.2);
        assertThat(reports.get("int8").change().meanAbs()).as("8 bits lose less than 4")
                .isLessThan(reports.get("nf4").change().meanAbs());
    }

    private static QuantizationReport qr(Map<String, QuantizationReport> r, String m) {
        return r.get(m);
    }

    @Test
    void mergeCommandQuantizesOrKeepsFullPrecision() throws Exception {
        Path out = tmp.resolve("cli");
        try (TuningSession s = open(run("bundled:stories260K", LORA, "{method: nf4}", 3, out))) {
            s.train();
        }
        String plugins = Dist.pluginsDir().toString();
        String adapter = out.resolve("adapter").toString();
        assertThat(Main.run("merge", "--plugins", plugins, "--adapter", adapter, "--quantize", "int8",
                "--out", tmp.resolve("cli-int8").toString())).isZero();
        JsonNode qc = JSON.readTree(tmp.resolve("cli-int8/config.json").toFile()).get("quantization_config");
        assertThat(qc.get("quantizer").asText()).isEqualTo("int8");
        // A quantized checkpoint as the base: merge re-quantizes and writes NF4 again; --full-precision writes fp32.
        assertThat(Main.run("merge", "--plugins", plugins, "--adapter", adapter, "--quantize", "nf4",
                "--out", tmp.resolve("cli-nf4").toString())).isZero();
        assertThat(Main.run("merge", "--plugins", plugins, "--model", tmp.resolve("cli-nf4").toString(),
                "--adapter", adapter, "--out", tmp.resolve("cli-nf4-again").toString())).isZero();
        assertThat(JSON.readTree(tmp.resolve("cli-nf4-again/config.json").toFile()).has("quantization_config"))
                .isTrue();
        assertThat(Main.run("merge", "--plugins", plugins, "--model", tmp.resolve("cli-nf4").toString(),
                "--adapter", adapter, "--full-precision", "--out", tmp.resolve("cli-fp").toString())).isZero();
        assertThat(JSON.readTree(tmp.resolve("cli-fp/config.json").toFile()).has("quantization_config")).isFalse();
        try (NDManager m = NDManager.newBaseManager(); LlamaModel fp = LlamaModel.load(tmp.resolve("cli-fp"), m)) {
            assertThat(fp.linear("model.layers.0.self_attn.q_proj").quantized()).isFalse();
        }
        assertThat(Main.run("merge", "--plugins", plugins, "--adapter", adapter, "--quantize", "fp3",
                "--out", tmp.resolve("cli-bad").toString())).isNotZero();
    }

    @Test
    void configurationErrors() {
        Path out = tmp.resolve("err");
        assertThatThrownBy(() -> RunConfigValidator.validate(run("bundled:stories260K", LORA, "{method: nf5}", 1,
                out), rt.extensions())).isInstanceOf(ConfigException.class)
                .hasMessageContaining("quantization.method").hasMessageContaining("nf5")
                .hasMessageContaining("nf4");
        assertThatThrownBy(() -> RunConfigValidator.validate(run("bundled:stories260K", LORA,
                "{method: nf4, options: {blocksize: 100}}", 1, out), rt.extensions()))
                .isInstanceOf(ConfigException.class).hasMessageContaining("quantization.options.blocksize")
                .hasMessageContaining("100");
        assertThatThrownBy(() -> RunConfigValidator.validate(run("bundled:stories260K", LORA,
                "{method: nf4, options: {quant_type: fp4}}", 1, out), rt.extensions()))
                .isInstanceOf(ConfigException.class).hasMessageContaining("quantization.options.quant_type");
        assertThatThrownBy(() -> RunConfigValidator.validate(run("bundled:stories260K", LORA,
                "{method: nf4, options: {dobule_quant: false}}", 1, out), rt.extensions()))
                .isInstanceOf(ConfigException.class).hasMessageContaining("quantization.options.dobule_quant")
                .hasMessageContaining("did you mean 'double_quant'");
        assertThatThrownBy(() -> RunConfigValidator.validate(run("bundled:stories260K", LORA,
                "{method: int8, options: {blocksize: 3}}", 1, out), rt.extensions()))
                .isInstanceOf(ConfigException.class).hasMessageContaining("quantization.options.blocksize");
    }

    /** A checkpoint whose absmax does not fit its weight fails naming the file and the key. */
    @Test
    void absmaxLengthMismatchNamesFileAndKey() throws Exception {
        Path good = tmp.resolve("q-good");
        try (TuningSession s = open(run("bundled:stories260K", "[]", "{method: nf4, options: {double_quant: false}}",
                1, tmp.resolve("d")))) {
            QuantizedExport.write(s.model(), s.plan().modelDir(), good);
        }
        Path bad = tmp.resolve("q-bad");
        Files.createDirectories(bad);
        for (String f : List.of("config.json", "tokenizer.json")) {
            Files.copy(good.resolve(f), bad.resolve(f));
        }
        String key = "model.layers.1.mlp.up_proj.weight.absmax";
        try (NDManager m = NDManager.newBaseManager(); SafetensorsCheckpoint ck = SafetensorsCheckpoint.open(good)) {
            SafetensorsWriter w = new SafetensorsWriter();
            for (String n : ck.names()) {
                NDArray a = ck.read(n, m);
                w.add(n, n.equals(key) ? a.get("0:10") : a);
            }
            w.write(bad.resolve("model.safetensors"));
        }
        assertThatThrownBy(() -> open(run(bad.toString(), "[]", null, 1, tmp.resolve("e"))))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining(bad.resolve("model.safetensors").toString())
                .hasMessageContaining(key).hasMessageContaining("got 10");
        // The same file with the matching key intact loads.
        try (TuningSession s = open(run(good.toString(), "[]", null, 1, tmp.resolve("f")))) {
            assertThat(BaseQuantization.stats(s.model()).linears()).isEqualTo(35);
        }
    }
}
