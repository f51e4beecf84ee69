package io.peft4j.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A {@link LlamaModel}'s current base tensors under their Hugging Face names, in checkpoint order (embedding; per
 * layer input norm, q, k, v, o, post-attention norm, gate, up, down; final norm; lm_head unless tied): what the
 * writers ({@code MergedExport}, {@code QuantizedExport}) put into {@code model.safetensors}.
 */
final class LlamaExport {
    private LlamaExport() {
    }

    /** See {@link LlamaModel#baseTensors(boolean)}. */
    static Map<String, NDArray> baseTensors(LlamaModel model, boolean dequantize) {
        Map<String, NDArray> out = new LinkedHashMap<>();
        out.put(LlamaSiteLayout.EMBED + ".weight", model.embed);
        for (DecoderLayer l : model.layers) {
            String p = LlamaSiteLayout.layer(l.index);
            out.put(p + ".input_layernorm.weight", l.inputNorm);
            for (AdaptableLinear a : List.of(l.q, l.k, l.v, l.o)) {
                putLinear(out, a, dequantize);
            }
            out.put(p + ".post_attention_layernorm.weight", l.postNorm);
            for (AdaptableLinear a : List.of(l.gate, l.up, l.down)) {
                putLinear(out, a, dequantize);
            }
        }
        out.put("model.norm.weight", model.finalNorm);
        if (!model.tiedEmbeddings()) {
            putLinear(out, model.lmHead, dequantize);
        }
        return out;
    }

    private static void putLinear(Map<String, NDArray> out, AdaptableLinear a, boolean dequantize) {
        if (!a.quantized()) {
            out.put(a.site().path() + ".weight", a.rawWeight());
        } else if (dequantize) {
            out.put(a.site().path() + ".weight", a.dequantizedCopy());
        }
        a.bias().ifPresent(b -> out.put(a.site().path() + ".bias", b));
    }

    /** See {@link LlamaModel#parameterCount()}: quantized weights counted at their float shape, tied ones once. */
    static long parameterCount(LlamaModel model) {
        long n = 0;
        for (NDArray a : baseTensors(model, false).values()) {
            n += a.getShape().size();
        }
        for (AdaptableLinear a : model.linears().values()) {
            if (a.quantized() && (a != model.lmHead || !model.tiedEmbeddings())) {
                n += new Shape(a.quantizedWeight().shape()).size();
            }
        }
        return n;
    }
}
