package io.peft4j.core.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.peft4j.api.QuantizedWeight;
import io.peft4j.api.PlannedQuantization;
import io.peft4j.core.model.AdaptableLinear;
import io.peft4j.core.model.LlamaModel;
import io.peft4j.core.model.PlatformForwardContext;
import io.peft4j.core.peft.PeftModel;
import java.util.List;

/**
 * Quantizes, dequantizes and measures a {@link LlamaModel}'s base linears. lm_head stays in full precision (as in
 * QLoRA and transformers' bitsandbytes integration, whose {@code llm_int8_skip_modules} default keeps the output
 * layer), so does everything that is not a linear (embeddings, norms).
 */
public final class BaseQuantization {
    /** Linears never quantized. */
    public static final String LM_HEAD = "lm_head";

    private BaseQuantization() {
    }

    /**
     * Quantizes every full-precision linear except lm_head, one at a time: each layer's float weight (mapped from
     * the file or in memory) is released as soon as its quantized form exists, so no second full copy is made.
     *
     * @return the number of linears quantized
     */
    public static int quantize(LlamaModel model, PlannedQuantization<?> quantization) {
        int n = 0;
        for (AdaptableLinear l : model.linears().values()) {
            if (!l.site().path().equals(LM_HEAD) && !l.quantized()) {
                l.quantize(quantization);
                n++;
            }
        }
        return n;
    }

    /** Replaces every quantized linear by its float32 dequantization. @return how many were dequantized */
    public static int dequantize(LlamaModel model) {
        int n = 0;
        for (AdaptableLinear l : model.linears().values()) {
            if (l.quantized()) {
                l.dequantizeBase();
                n++;
            }
        }
        return n;
    }

    /** Size of the quantized linears (method: the quantizers' ids, comma-separated; no change measured). */
    public static QuantizationReport stats(LlamaModel model) {
        long params = 0;
        long bytes = 0;
        int linears = 0;
        java.util.Set<String> ids = new java.util.TreeSet<>();
        for (AdaptableLinear l : model.linears().values()) {
            QuantizedWeight q = l.quantizedWeight();
            if (q != null) {
                long size = 1;
                for (long d : q.shape()) {
                    size *= d;
                }
                params += size;
                bytes += q.storageBytes();
                linears++;
                ids.add(l.quantizer() == null ? "?" : l.quantizer().id());
            }
        }
        return new QuantizationReport(String.join(",", ids), linears, params, bytes, null);
    }

    /** {@link #quantize} plus the logit change it causes on {@code probe} (token ids of one sequence). */
    public static QuantizationReport quantizeAndReport(LlamaModel model, PlannedQuantization<?> quantization,
                                                       long[] probe) {
        float[] before = logits(model, probe);
        quantize(model, quantization);
        float[] after = logits(model, probe);
        QuantizationReport s = stats(model);
        return new QuantizationReport(s.method(), s.linears(), s.parameters(), s.storageBytes(),
                OutputChange.between(before, after, probe.length));
    }

    /**
     * Merges {@code names} (made active, in order) into the base and reports the logit change merged vs unmerged on
     * {@code probe}. On a quantized base each merged layer is dequantized, merged and re-quantized with its
     * quantizer and options (spec §7.5) - lossy, which is what the report measures.
     */
    public static MergeReport mergeAndReport(PeftModel peft, LlamaModel model, List<String> names, long[] probe) {
        peft.setActive(names);
        float[] before = logits(model, probe);
        int requantized = 0;
        for (String n : names) {
            for (var s : peft.adapter(n).sites()) {
                if (model.linears().containsKey(s.path()) && model.linear(s.path()).quantized()) {
                    requantized++;
                }
            }
            peft.merge(n);
        }
        float[] after = logits(model, probe);
        return new MergeReport(List.copyOf(names), requantized, OutputChange.between(before, after, probe.length));
    }

    /** Logits of one sequence of token ids, with the model's active adapters, as Java floats. */
    public static float[] logits(LlamaModel model, long[] ids) {
        try (NDManager m = model.manager().newSubManager()) {
            NDArray in = m.create(ids).reshape(1, ids.length);
            return model.forward(in, null, null, PlatformForwardContext.eval(m)).toFloatArray();
        }
    }
}
