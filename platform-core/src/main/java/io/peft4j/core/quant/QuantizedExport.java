package io.peft4j.core.quant;

import ai.djl.ndarray.NDArray;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.peft4j.api.PlannedQuantization;
import io.peft4j.core.config.OptionsCodec;
import io.peft4j.core.io.AtomicDirectory;
import io.peft4j.core.io.SafetensorsWriter;
import io.peft4j.core.model.AdaptableLinear;
import io.peft4j.core.model.LlamaModel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Writes a model whose base linears are quantized as a Hugging Face checkpoint in the bitsandbytes / transformers
 * layout (spec §7.4): for every quantized linear the quantizer's state dict ({@code weight} uint8,
 * {@code weight.absmax}, {@code weight.quant_map}, {@code weight.nested_absmax}, {@code weight.nested_quant_map},
 * {@code weight.quant_state.bitsandbytes__nf4} for NF4), the other tensors (embeddings, norms, lm_head, biases) in
 * float32, and {@code config.json} with
 * <ul>
 *   <li>{@code quantization_config}: for {@code nf4} the block transformers writes for a bnb 4-bit model
 *       ({@code quant_method: bitsandbytes, load_in_4bit: true, bnb_4bit_quant_type: nf4,
 *       bnb_4bit_use_double_quant, bnb_4bit_compute_dtype: float32, ...}); for other quantizers
 *       {@code {"quant_method": "peft4j", "quantizer": id}} (not loadable by transformers);</li>
 *   <li>{@value #PEFT4J_KEY}: {@code {"method": id, "options": {...}}}, the quantizer's options record (every
 *       option, defaults included), so that a
 *       reload re-quantizes (e.g. after a merge) with the same settings.</li>
 * </ul>
 * Written to a temporary sibling directory and renamed.
 */
public final class QuantizedExport {
    /** Top-level config.json key holding peft4j's quantizer id and options. */
    public static final String PEFT4J_KEY = "peft4j_quantization";
    private static final List<String> COPIED = List.of("tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json", "generation_config.json", "tokenizer.model");
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private QuantizedExport() {
    }

    /**
     * Writes {@code model} (its quantized linears as they are) with config and tokenizer files from
     * {@code sourceDir}.
     *
     * @throws IllegalStateException when no linear is quantized, or linears use different quantizers or options
     */
    public static void write(LlamaModel model, Path sourceDir, Path out) {
        PlannedQuantization<?> q = null;
        List<AdaptableLinear> quantized = new ArrayList<>();
        for (AdaptableLinear l : model.linears().values()) {
            if (!l.quantized()) {
                continue;
            }
            PlannedQuantization<?> lq = l.quantization();
            if (lq == null) {
                throw new IllegalStateException(l.site().path() + ": quantized by an unknown quantizer");
            }
            if (q == null) {
                q = lq;
            } else if (!q.quantizer().id().equals(lq.quantizer().id()) || !Objects.equals(q.options(), lq.options())) {
                throw new IllegalStateException("linears are quantized differently (" + q.quantizer().id() + " "
                        + q.options() + " vs " + l.site().path() + ": " + lq.quantizer().id() + " " + lq.options()
                        + "); a checkpoint records one quantization_config");
            }
            quantized.add(l);
        }
        if (q == null) {
            throw new IllegalStateException("no linear of the model is quantized; use MergedExport for a "
                    + "full-precision checkpoint");
        }
        String id = q.quantizer().id();
        Map<String, Object> opts = OptionsCodec.toMap(q.options());
        try {
            AtomicDirectory.write(out, tmp -> {
                Map<String, NDArray> tensors = new LinkedHashMap<>(model.baseTensors(false));
                List<NDArray> copies = new ArrayList<>();
                try {
                    for (AdaptableLinear l : quantized) {
                        Map<String, NDArray> sd = l.quantizedWeight().stateDict(l.site().path() + ".");
                        copies.addAll(sd.values());
                        tensors.putAll(sd);
                    }
                    ObjectNode cfg = (ObjectNode) JSON.readTree(sourceDir.resolve("config.json").toFile());
                    if (!model.tiedEmbeddings()) {
                        cfg.put("tie_word_embeddings", false);
                    }
                    cfg.put("torch_dtype", "float32");
                    cfg.set("quantization_config", quantizationConfig(id, opts));
                    ObjectNode p = cfg.putObject(PEFT4J_KEY);
                    p.put("method", id);
                    p.set("options", JSON.valueToTree(opts));
                    Files.writeString(tmp.resolve("config.json"), JSON.writeValueAsString(cfg));
                    SafetensorsWriter.write(tmp.resolve("model.safetensors"), tensors, Map.of("format", "pt"));
                } finally {
                    copies.forEach(NDArray::close);
                }
                for (String f : COPIED) {
                    if (Files.isRegularFile(sourceDir.resolve(f))) {
                        Files.copy(sourceDir.resolve(f), tmp.resolve(f), StandardCopyOption.REPLACE_EXISTING);
                    }
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException("cannot export quantized model to " + out.toAbsolutePath() + ": "
                    + e.getMessage(), e);
        }
    }

    /**
     * The {@code quantization_config} block: transformers' {@code BitsAndBytesConfig.to_dict()} for {@code nf4}
     * (double quantization from the {@code double_quant} option, default true), else a peft4j block.
     */
    public static ObjectNode quantizationConfig(String method, Map<String, Object> options) {
        ObjectNode c = JSON.createObjectNode();
        if (method.equals("nf4")) {
            Object dq = options == null ? null : options.get("double_quant");
            c.put("_load_in_4bit", true);
            c.put("_load_in_8bit", false);
            c.put("bnb_4bit_compute_dtype", "float32");
            c.put("bnb_4bit_quant_storage", "uint8");
            c.put("bnb_4bit_quant_type", "nf4");
            c.put("bnb_4bit_use_double_quant", dq == null || Boolean.TRUE.equals(dq));
            c.put("llm_int8_enable_fp32_cpu_offload", false);
            c.put("llm_int8_has_fp16_weight", false);
            c.putNull("llm_int8_skip_modules");
            c.put("llm_int8_threshold", 6.0);
            c.put("load_in_4bit", true);
            c.put("load_in_8bit", false);
            c.put("quant_method", "bitsandbytes");
        } else {
            c.put("quant_method", "peft4j");
            c.put("quantizer", method);
        }
        return c;
    }

    /**
     * The options to re-quantize weights of quantizer {@code id} loaded from the model whose config.json is
     * {@code configJson}: the {@value #PEFT4J_KEY} options when they are for {@code id}; for a transformers bnb
     * NF4 checkpoint {@code double_quant} from {@code bnb_4bit_use_double_quant}; otherwise the quantizer's
     * defaults (an empty map).
     */
    public static Map<String, Object> optionsFor(Path configJson, String id) {
        JsonNode root;
        try {
            root = JSON.readTree(configJson.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(configJson + ": " + e.getMessage(), e);
        }
        JsonNode p = root.path(PEFT4J_KEY);
        if (id.equals(p.path("method").asText(null)) && p.path("options").isObject()) {
            @SuppressWarnings("unchecked")
            Map<String, Object> m = JSON.convertValue(p.get("options"), Map.class);
            return m;
        }
        JsonNode qc = root.path("quantization_config");
        if (id.equals("nf4") && "bitsandbytes".equals(qc.path("quant_method").asText(null))
                && qc.has("bnb_4bit_use_double_quant")) {
            return Map.of("double_quant", qc.get("bnb_4bit_use_double_quant").asBoolean(true));
        }
        return Map.of();
    }
}
