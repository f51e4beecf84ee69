package io.peft4j.plugins.nf4;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import java.util.Arrays;
import java.util.Map;

/**
 * Reading a quantized weight back from its saved tensors ({@code weight}, {@code weight.absmax},
 * {@code weight.quant_map}, {@code weight.<quant_state key>} ...), shared by the NF4 and int8 quantizers. Every check
 * names the key it failed on.
 */
final class SavedQuantState {
    private SavedQuantState() {
    }

    /** The parsed quant state of {@code weight} and its element count. */
    record Header(String stateKey, QuantStateJson.State state, long elements) {
    }

    /** Whether {@code prefix + "weight"} is a uint8 tensor with a quant state under {@code stateSuffix}. */
    static boolean recognizes(String prefix, Map<String, NDArray> tensors, String stateSuffix) {
        NDArray w = tensors.get(prefix + "weight");
        return w != null && w.getDataType() == DataType.UINT8 && tensors.containsKey(prefix + "weight." + stateSuffix);
    }

    /**
     * Parses and checks the JSON quant state stored (as uint8 bytes) under {@code weightKey + "." + stateSuffix}:
     * quant type, blocksize and a positive element count that fits an int array.
     *
     * @param stateT the tensor already looked up (the caller may explain a missing one better)
     */
    static Header header(String weightKey, String stateSuffix, NDArray stateT, String quantType) {
        String stateKey = weightKey + "." + stateSuffix;
        QuantStateJson.State st;
        try {
            st = QuantStateJson.read(uint8(stateKey, stateT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(stateKey + ": " + e.getMessage(), e);
        }
        if (!quantType.equals(st.quantType())) {
            throw new IllegalArgumentException(stateKey + ": quant_type \"" + st.quantType()
                    + "\" is not supported here; expected \"" + quantType + "\"");
        }
        checkBlocksize(stateKey, "blocksize", st.blocksize());
        long n = 1;
        for (long d : st.shape()) {
            n *= d;
        }
        if (n <= 0 || n > Integer.MAX_VALUE - 1) {
            throw new IllegalArgumentException(stateKey + ": shape " + Arrays.toString(st.shape()) + " has " + n
                    + " elements");
        }
        return new Header(stateKey, st, n);
    }

    static void checkBlocksize(String stateKey, String field, int blocksize) {
        if (!BlockwiseQuantization.isValidBlocksize(blocksize)) {
            throw new IllegalArgumentException(stateKey + ": " + field + " " + blocksize + " is not one of "
                    + Arrays.toString(BlockwiseQuantization.VALID_BLOCKSIZES));
        }
    }

    static NDArray required(Map<String, NDArray> tensors, String key) {
        NDArray t = tensors.get(key);
        if (t == null) {
            throw new IllegalArgumentException(key + ": missing");
        }
        return t;
    }

    static byte[] uint8(String key, NDArray t) {
        if (t.getDataType() != DataType.UINT8) {
            throw new IllegalArgumentException(key + ": expected uint8, got " + t.getDataType());
        }
        return t.toByteArray();
    }

    /** A floating tensor's values as float32. */
    static float[] floats(String key, NDArray t) {
        if (!t.getDataType().isFloating()) {
            throw new IllegalArgumentException(key + ": expected float32, got " + t.getDataType());
        }
        if (t.getDataType() == DataType.FLOAT32) {
            return t.toFloatArray();
        }
        try (NDArray f = t.toType(DataType.FLOAT32, true)) {
            return f.toFloatArray();
        }
    }

    /** A stored code book; the shared constant when absent or bit-identical to it (no per-weight copy). */
    static float[] optionalCode(Map<String, NDArray> tensors, String key, float[] standard) {
        NDArray t = tensors.get(key);
        if (t == null) {
            return standard;
        }
        float[] c = floats(key, t);
        if (c.length != standard.length) {
            throw new IllegalArgumentException(key + ": expected " + standard.length + " values, got " + c.length);
        }
        return Arrays.equals(c, standard) ? standard : c;
    }
}
