/**
 * QLoRA's NF4 quantizer plugin ({@code plugin.id qlora-nf4}, quantizer id {@code nf4}): frozen base weights stored as
 * 4-bit NormalFloat with blockwise absmax and double quantization, bit-exact with bitsandbytes and saved in the
 * transformers/bitsandbytes {@code Linear4bit} key layout.
 *
 * <ul>
 *   <li>{@link io.peft4j.plugins.nf4.Nf4Quantizer}: the PF4J extension (quantize, load, recognize).</li>
 *   <li>{@link io.peft4j.plugins.nf4.Nf4Weight}: the stored weight; dequantization with tensor ops.</li>
 *   <li>{@link io.peft4j.plugins.nf4.BlockwiseQuantization}: the quantization arithmetic in plain float32 Java.</li>
 *   <li>{@link io.peft4j.plugins.nf4.Nf4Codes}: the NF4 and dynamic 8-bit code books as bit patterns.</li>
 *   <li>{@link io.peft4j.plugins.nf4.Nf4Options}: options and their validation.</li>
 * </ul>
 */
package io.peft4j.plugins.nf4;
