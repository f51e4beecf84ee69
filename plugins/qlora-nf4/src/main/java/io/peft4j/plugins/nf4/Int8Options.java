package io.peft4j.plugins.nf4;

import com.fasterxml.jackson.annotation.JsonProperty;
import io.peft4j.api.ExtensionOptions;

/**
 * Options of the {@code int8} quantizer ({@code quantization: {method: int8, options: {blocksize: 256}}}).
 *
 * @param blocksize values per absmax block: 32, 64, 128, 256 (default, bitsandbytes' {@code quantize_blockwise}
 *                  default for weights of 8-bit optimizers), ..., 4096
 */
public record Int8Options(@JsonProperty("blocksize") Integer blocksize) implements ExtensionOptions {

    public Int8Options {
        blocksize = blocksize == null ? 256 : blocksize;
    }

    public static Int8Options defaults() {
        return new Int8Options(null);
    }

    /** @throws io.peft4j.api.ConfigException naming {@code blocksize} when it is not a valid block size */
    @Override
    public void validate() {
        BlockwiseQuantization.checkBlocksize(blocksize);
    }
}
