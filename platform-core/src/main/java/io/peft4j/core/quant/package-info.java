/**
 * Quantized base models (QLoRA, spec §7): quantizing and dequantizing a loaded model's linears, measuring what
 * quantization and merging into a quantized base do to the outputs ({@link io.peft4j.core.quant.BaseQuantization}),
 * and writing quantized checkpoints in the bitsandbytes / transformers layout
 * ({@link io.peft4j.core.quant.QuantizedExport}).
 */
package io.peft4j.core.quant;
