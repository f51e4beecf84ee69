package io.peft4j.plugins.nf4;

import com.fasterxml.jackson.annotation.JsonProperty;
import io.peft4j.api.ConfigException;
import io.peft4j.api.ExtensionOptions;
import java.util.Locale;

/**
 * Options of the {@code nf4} quantizer ({@code quantization: {method: nf4, options: {...}}}); the defaults are
 * QLoRA's. The platform parses the options map into this record (unknown keys are errors) and calls
 * {@link #validate()}.
 *
 * @param blocksize        values per absmax block: 32, 64 (default), 128, ..., 4096
 * @param doubleQuant      double-quantize the absmax statistics (bitsandbytes {@code compress_statistics},
 *                         {@code bnb_4bit_use_double_quant}; default true)
 * @param quantType        {@code nf4} (the default and the only type; bitsandbytes' {@code fp4} is not supported)
 * @param computeDtype     dtype of the dequantized weight; only {@code float32} (bf16 cannot be created in DJL);
 *                         {@code torch.float32} is accepted too
 * @param cacheDequantized keep a float32 copy next to the 4-bit data for speed (default false: it costs 32 bits
 *                         per parameter, which defeats the purpose of NF4)
 */
public record Nf4Options(@JsonProperty("blocksize") Integer blocksize,
                         @JsonProperty("double_quant") Boolean doubleQuant,
                         @JsonProperty("quant_type") String quantType,
                         @JsonProperty("compute_dtype") String computeDtype,
                         @JsonProperty("cache_dequantized") Boolean cacheDequantized) implements ExtensionOptions {
    public static final String QUANT_TYPE = "nf4";
    /** bitsandbytes' block size for the nested (8-bit) quantization of the statistics. */
    public static final int NESTED_BLOCKSIZE = 256;

    public Nf4Options {
        blocksize = blocksize == null ? 64 : blocksize;
        doubleQuant = doubleQuant == null || doubleQuant;
        quantType = quantType == null ? QUANT_TYPE : quantType.toLowerCase(Locale.ROOT);
        computeDtype = computeDtype == null ? "float32"
                : computeDtype.toLowerCase(Locale.ROOT).replace("torch.", "");
        cacheDequantized = cacheDequantized != null && cacheDequantized;
    }

    /** QLoRA's defaults: blocksize 64, double quantization, float32 compute, no cache. */
    public static Nf4Options defaults() {
        return new Nf4Options(null, null, null, null, null);
    }

    /** @throws ConfigException naming the offending option */
    @Override
    public void validate() {
        if (quantType.equals("fp4")) {
            throw new ConfigException("quant_type", "\"fp4\" is not supported by this plugin; only \"nf4\" "
                    + "(4-bit NormalFloat, the QLoRA format)");
        }
        if (!quantType.equals(QUANT_TYPE)) {
            throw new ConfigException("quant_type", "expected \"nf4\", got \"" + quantType + "\"");
        }
        BlockwiseQuantization.checkBlocksize(blocksize);
        if (!computeDtype.equals("float32")) {
            throw new ConfigException("compute_dtype", "only \"float32\" is supported (dequantized weights are "
                    + "float32; bfloat16 cannot be used with the DJL PyTorch engine), got \"" + computeDtype + "\"");
        }
    }
}
