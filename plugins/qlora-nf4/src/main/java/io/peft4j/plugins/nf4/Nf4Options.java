package io.peft4j.plugins.nf4;

import io.peft4j.api.ConfigException;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Options of the {@code nf4} quantizer ({@code quantization: {method: nf4, options: {...}}}); the defaults are
 * QLoRA's.
 *
 * @param blocksize        values per absmax block: 32, 64 (default), 128, ..., 4096
 * @param doubleQuant      double-quantize the absmax statistics (bitsandbytes {@code compress_statistics},
 *                         {@code bnb_4bit_use_double_quant}; default true)
 * @param computeDtype     dtype of the dequantized weight; only {@code float32} (bf16 cannot be created in DJL)
 * @param cacheDequantized keep a float32 copy next to the 4-bit data for speed (default false: it costs 32 bits
 *                         per parameter, which defeats the purpose of NF4)
 */
public record Nf4Options(int blocksize, boolean doubleQuant, String computeDtype, boolean cacheDequantized) {
    public static final String QUANT_TYPE = "nf4";
    /** bitsandbytes' block size for the nested (8-bit) quantization of the statistics. */
    public static final int NESTED_BLOCKSIZE = 256;

    private static final List<String> KEYS =
            List.of("blocksize", "double_quant", "quant_type", "compute_dtype", "cache_dequantized");

    public static Nf4Options defaults() {
        return new Nf4Options(64, true, "float32", false);
    }

    /**
     * Parses and validates an options map (null or empty means defaults). Unknown keys are rejected so that a typo
     * does not silently fall back to a default.
     *
     * @throws ConfigException naming the offending option
     */
    public static Nf4Options parse(Map<String, Object> options) {
        Nf4Options d = defaults();
        if (options == null || options.isEmpty()) {
            return d;
        }
        for (String k : options.keySet()) {
            if (!KEYS.contains(k)) {
                throw new ConfigException(k, "unknown nf4 option; expected one of " + KEYS);
            }
        }
        Object qt = options.get("quant_type");
        if (qt != null) {
            String s = String.valueOf(qt).toLowerCase(Locale.ROOT);
            if (s.equals("fp4")) {
                throw new ConfigException("quant_type", "\"fp4\" is not supported by this plugin; only \"nf4\" "
                        + "(4-bit NormalFloat, the QLoRA format)");
            }
            if (!s.equals(QUANT_TYPE)) {
                throw new ConfigException("quant_type", "expected \"nf4\", got \"" + qt + "\"");
            }
        }
        int blocksize = d.blocksize();
        Object b = options.get("blocksize");
        if (b != null) {
            if (!(b instanceof Number num) || num.doubleValue() != Math.rint(num.doubleValue())
                    || !BlockwiseQuantization.isValidBlocksize(num.longValue())) {
                throw new ConfigException("blocksize", "expected one of 32, 64, 128, 256, 512, 1024, 2048, 4096; "
                        + "got " + b);
            }
            blocksize = num.intValue();
        }
        boolean dq = bool(options, "double_quant", d.doubleQuant());
        boolean cache = bool(options, "cache_dequantized", d.cacheDequantized());
        String cd = d.computeDtype();
        Object c = options.get("compute_dtype");
        if (c != null) {
            cd = String.valueOf(c).toLowerCase(Locale.ROOT).replace("torch.", "");
            if (!cd.equals("float32")) {
                throw new ConfigException("compute_dtype", "only \"float32\" is supported (dequantized weights are "
                        + "float32; bfloat16 cannot be used with the DJL PyTorch engine), got \"" + c + "\"");
            }
        }
        return new Nf4Options(blocksize, dq, cd, cache);
    }

    private static boolean bool(Map<String, Object> options, String key, boolean dflt) {
        Object v = options.get(key);
        if (v == null) {
            return dflt;
        }
        if (!(v instanceof Boolean bv)) {
            throw new ConfigException(key, "expected true or false, got " + v);
        }
        return bv;
    }
}
