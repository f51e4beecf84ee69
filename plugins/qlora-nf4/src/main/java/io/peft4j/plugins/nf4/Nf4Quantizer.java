package io.peft4j.plugins.nf4;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import io.peft4j.api.QuantizedWeight;
import io.peft4j.api.Quantizer;
import io.peft4j.plugins.nf4.BlockwiseQuantization.Blockwise8;
import io.peft4j.plugins.nf4.BlockwiseQuantization.DoubleQuantized;
import java.util.Arrays;
import java.util.Map;
import org.pf4j.Extension;

/**
 * QLoRA's 4-bit NormalFloat quantizer, bit-exact with bitsandbytes {@code quantize_4bit(quant_type="nf4")}.
 *
 * <p>Quantize (see {@link BlockwiseQuantization} for the exact arithmetic): flatten W row-major (n values), per block
 * of {@code blocksize} (default 64) values {@code absmax = max|x|}, {@code t = clamp(x · (1/absmax), -1, 1)},
 * {@code q = } index of the nearest of the 16 NF4 values (ties to the lower index), packed two per byte with the
 * first element in the high nibble (odd n padded with index 7 = 0.0). An all-zero block gives bytes {@code 0x77}.
 *
 * <p>Double quantization ({@code double_quant}, default true, bnb {@code compress_statistics}):
 * <pre>
 *   offset = mean(absmax);   (qabsmax, nestedAbsmax) = blockwise8(absmax - offset, blocksize 256, DYNAMIC)
 *   absmax'[j] = DYNAMIC[qabsmax[j]] · nestedAbsmax[j / 256] + offset
 * </pre>
 * Dequantize: {@code Ŵ[i] = NF4[q[i]] · absmax'[i / blocksize]} (float32), see {@link Nf4Weight}.
 *
 * <p>Save/load use the transformers/bnb {@code Linear4bit} keys under the layer prefix: {@code weight} (uint8
 * {@code [(n+1)/2, 1]}), {@code weight.absmax} (float32, or uint8 when nested), {@code weight.quant_map}
 * (float32[16]), {@code weight.nested_absmax}, {@code weight.nested_quant_map} (float32[256]) and
 * {@code weight.quant_state.bitsandbytes__nf4} (uint8 tensor of UTF-8 JSON, {@link QuantStateJson}).
 *
 * <p>Options: {@link Nf4Options}.
 */
@Extension
public final class Nf4Quantizer implements Quantizer<Nf4Options> {
    public static final String ID = "nf4";
    static final String QUANT_STATE_SUFFIX = "quant_state.bitsandbytes__nf4";

    @Override
    public String id() {
        return ID;
    }

    @Override
    public String description() {
        return "QLoRA NF4: 4-bit NormalFloat base weights, blockwise absmax with double quantization "
                + "(bitsandbytes-compatible, ~4.13 bits/param)";
    }

    @Override
    public Class<Nf4Options> optionsType() {
        return Nf4Options.class;
    }

    @Override
    public Nf4Weight quantize(NDArray weight, Nf4Options o) {
        o.validate();   // the platform validated parsed options; a direct caller may not have
        float[] x = BlockwiseQuantization.checkedValues("nf4", weight);
        DataType dt = weight.getDataType();
        float[] absmax = BlockwiseQuantization.absmax(x, o.blocksize());
        byte[] packed = BlockwiseQuantization.quantizeNf4(x, absmax, o.blocksize());
        DoubleQuantized dq = o.doubleQuant()
                ? BlockwiseQuantization.doubleQuantize(absmax, Nf4Options.NESTED_BLOCKSIZE) : null;
        String dtype = dt == DataType.FLOAT16 ? "float16" : "float32";
        return new Nf4Weight(weight.getManager(), weight.getShape().getShape(), o.blocksize(), packed,
                dq == null ? absmax : null, dq, Nf4Codes.NF4, Nf4Codes.DYNAMIC_8BIT, dtype, o.cacheDequantized());
    }

    @Override
    public boolean recognizes(String prefix, Map<String, NDArray> tensors) {
        return SavedQuantState.recognizes(prefix, tensors, QUANT_STATE_SUFFIX);
    }

    /**
     * Restores a weight saved in the bnb layout. The data are copied into a sub-manager of the manager holding
     * {@code prefix + "weight"}, so the given tensors may be closed afterwards; that manager must stay open.
     *
     * @throws IllegalArgumentException naming the key when a tensor is missing or inconsistent (length, dtype) or
     *                                  the quant-state JSON is malformed
     */
    @Override
    public QuantizedWeight load(String prefix, Map<String, NDArray> tensors) {
        String w = prefix + "weight";
        String stateKey = w + "." + QUANT_STATE_SUFFIX;
        NDArray stateT = tensors.get(stateKey);
        if (stateT == null) {
            if (tensors.containsKey(w + ".quant_state.bitsandbytes__fp4")) {
                throw new IllegalArgumentException(w + ".quant_state.bitsandbytes__fp4: FP4 checkpoints are not "
                        + "supported; only NF4");
            }
            throw new IllegalArgumentException(stateKey + ": missing (not an NF4 weight in bitsandbytes layout)");
        }
        SavedQuantState.Header h = SavedQuantState.header(w, QUANT_STATE_SUFFIX, stateT, Nf4Options.QUANT_TYPE);
        QuantStateJson.State st = h.state();
        long n = h.elements();
        byte[] packed = SavedQuantState.uint8(w, SavedQuantState.required(tensors, w));
        if (packed.length != (n + 1) / 2) {
            throw new IllegalArgumentException(w + ": expected " + (n + 1) / 2 + " packed bytes for shape "
                    + Arrays.toString(st.shape()) + ", got " + packed.length);
        }
        int nb = BlockwiseQuantization.blockCount(n, st.blocksize());
        String absKey = w + ".absmax";
        NDArray absT = SavedQuantState.required(tensors, absKey);
        if (absT.size() != nb) {
            throw new IllegalArgumentException(absKey + ": expected ceil(" + n + " / " + st.blocksize() + ") = " + nb
                    + " values, got " + absT.size());
        }
        float[] code4 = SavedQuantState.optionalCode(tensors, w + ".quant_map", Nf4Codes.NF4);
        boolean nested = st.nestedBlocksize() != null;
        if (!nested) {
            float[] absmax = SavedQuantState.floats(absKey, absT);
            return new Nf4Weight(tensors.get(w).getManager(), st.shape(), st.blocksize(), packed, absmax, null,
                    code4, Nf4Codes.DYNAMIC_8BIT, st.dtype(), false);
        }
        SavedQuantState.checkBlocksize(stateKey, "nested_blocksize", st.nestedBlocksize());
        if (absT.getDataType() != DataType.UINT8) {
            throw new IllegalArgumentException(absKey + ": expected uint8 (double-quantized statistics, "
                    + "nested_offset is set), got " + absT.getDataType());
        }
        byte[] qabs = SavedQuantState.uint8(absKey, absT);
        String nestedKey = w + ".nested_absmax";
        NDArray nestedT = SavedQuantState.required(tensors, nestedKey);
        int nnb = BlockwiseQuantization.blockCount(nb, st.nestedBlocksize());
        if (nestedT.size() != nnb) {
            throw new IllegalArgumentException(nestedKey + ": expected ceil(" + nb + " / " + st.nestedBlocksize()
                    + ") = " + nnb + " values, got " + nestedT.size());
        }
        float[] code8 = SavedQuantState.optionalCode(tensors, w + ".nested_quant_map", Nf4Codes.DYNAMIC_8BIT);
        DoubleQuantized dq = new DoubleQuantized(
                new Blockwise8(qabs, SavedQuantState.floats(nestedKey, nestedT), st.nestedBlocksize()), st.nestedOffset());
        return new Nf4Weight(tensors.get(w).getManager(), st.shape(), st.blocksize(), packed, null, dq, code4, code8,
                st.dtype(), false);
    }
}
