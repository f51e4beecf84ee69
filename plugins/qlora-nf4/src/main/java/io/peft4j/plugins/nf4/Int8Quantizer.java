package io.peft4j.plugins.nf4;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import io.peft4j.api.QuantizedWeight;
import io.peft4j.api.Quantizer;
import io.peft4j.plugins.nf4.BlockwiseQuantization.Blockwise8;
import java.util.Arrays;
import java.util.Map;
import org.pf4j.Extension;

/**
 * Blockwise absmax 8-bit quantizer with bitsandbytes' signed dynamic map (bnb {@code quantize_blockwise} with
 * {@code code = create_dynamic_map(signed=True)}, blocksize 256 by default), for post-merge export at 8 bits:
 * <pre>
 *   absmax[b] = max |x| over block b;  q[i] = index of the nearest DYNAMIC value to clamp(x[i] · (1/absmax[b]))
 *   Ŵ[i] = DYNAMIC[q[i]] · absmax[i / blocksize]
 * </pre>
 * Ties go to the lower index, as for NF4 ({@link BlockwiseQuantization#quantize8}). 8.125 bits per parameter at
 * blocksize 256.
 *
 * <p>State dict ({@link Int8Weight#stateDict}): {@code weight} uint8 {@code [out, in]}, {@code weight.absmax},
 * {@code weight.quant_map}, {@code weight.quant_state.peft4j__int8}. This is peft4j's own layout (transformers'
 * bnb 8-bit format is LLM.int8, a different scheme), readable by this quantizer only.
 */
@Extension
public final class Int8Quantizer implements Quantizer<Int8Options> {
    public static final String ID = "int8";
    static final String QUANT_TYPE = "int8_dynamic";
    static final String QUANT_STATE_SUFFIX = "quant_state.peft4j__int8";

    @Override
    public String id() {
        return ID;
    }

    @Override
    public String description() {
        return "Blockwise absmax 8-bit with the bitsandbytes dynamic map (blocksize 256, ~8.13 bits/param)";
    }

    @Override
    public Class<Int8Options> optionsType() {
        return Int8Options.class;
    }

    @Override
    public Int8Weight quantize(NDArray weight, Int8Options o) {
        o.validate();   // the platform validated parsed options; a direct caller may not have
        float[] x = BlockwiseQuantization.checkedValues("int8", weight);
        Blockwise8 b = BlockwiseQuantization.quantize8(x, o.blocksize());
        return new Int8Weight(weight.getManager(), weight.getShape().getShape(), o.blocksize(), b.quantized(),
                b.absmax(), Nf4Codes.DYNAMIC_8BIT);
    }

    @Override
    public boolean recognizes(String prefix, Map<String, NDArray> tensors) {
        return SavedQuantState.recognizes(prefix, tensors, QUANT_STATE_SUFFIX);
    }

    /**
     * Restores a weight saved by {@link Int8Weight#stateDict}; copies the data into a sub-manager of the manager
     * holding {@code prefix + "weight"}.
     *
     * @throws IllegalArgumentException naming the key when a tensor is missing or inconsistent
     */
    @Override
    public QuantizedWeight load(String prefix, Map<String, NDArray> tensors) {
        String w = prefix + "weight";
        String stateKey = w + "." + QUANT_STATE_SUFFIX;
        NDArray stateT = SavedQuantState.required(tensors, stateKey);
        SavedQuantState.Header h = SavedQuantState.header(w, QUANT_STATE_SUFFIX, stateT, QUANT_TYPE);
        QuantStateJson.State st = h.state();
        long n = h.elements();
        byte[] q = SavedQuantState.uint8(w, SavedQuantState.required(tensors, w));
        if (q.length != n) {
            throw new IllegalArgumentException(w + ": expected " + n + " bytes for shape "
                    + Arrays.toString(st.shape()) + ", got " + q.length);
        }
        String absKey = w + ".absmax";
        NDArray absT = SavedQuantState.required(tensors, absKey);
        int nb = BlockwiseQuantization.blockCount(n, st.blocksize());
        if (absT.getDataType() != DataType.FLOAT32 || absT.size() != nb) {
            throw new IllegalArgumentException(absKey + ": expected float32 with ceil(" + n + " / " + st.blocksize()
                    + ") = " + nb + " values, got " + absT.getDataType() + " with " + absT.size());
        }
        float[] code = SavedQuantState.optionalCode(tensors, w + ".quant_map", Nf4Codes.DYNAMIC_8BIT);
        return new Int8Weight(tensors.get(w).getManager(), st.shape(), st.blocksize(), q, absT.toFloatArray(), code);
    }
}
