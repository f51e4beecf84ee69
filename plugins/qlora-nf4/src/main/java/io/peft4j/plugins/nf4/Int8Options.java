package io.peft4j.plugins.nf4;

import io.peft4j.api.ConfigException;
import java.util.List;
import java.util.Map;

/**
 * Options of the {@code int8} quantizer ({@code quantization: {method: int8, options: {blocksize: 256}}}).
 *
 * @param blocksize values per absmax block: 32, 64, 128, 256 (default, bitsandbytes' {@code quantize_blockwise}
 *                  default for weights of 8-bit optimizers), ..., 4096
 */
public record Int8Options(int blocksize) {
    private static final List<String> KEYS = List.of("blocksize");

    public static Int8Options defaults() {
        return new Int8Options(256);
    }

    /**
     * Parses and validates an options map (null or empty means defaults); unknown keys are rejected.
     *
     * @throws ConfigException naming the offending option
     */
    public static Int8Options parse(Map<String, Object> options) {
        if (options == null || options.isEmpty()) {
            return defaults();
        }
        for (String k : options.keySet()) {
            if (!KEYS.contains(k)) {
                throw new ConfigException(k, "unknown int8 option; expected one of " + KEYS);
            }
        }
        Object b = options.get("blocksize");
        if (b == null) {
            return defaults();
        }
        if (!(b instanceof Number num) || num.doubleValue() != Math.rint(num.doubleValue())
                || !BlockwiseQuantization.isValidBlocksize(num.longValue())) {
            throw new ConfigException("blocksize", "expected one of 32, 64, 128, 256, 512, 1024, 2048, 4096; got " + b);
        }
        return new Int8Options(num.intValue());
    }
}
