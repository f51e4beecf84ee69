package io.peft4j.core.quant;

import java.util.List;

/**
 * Result of merging adapters into the base: which adapters, how many merged linears were quantized (and so
 * re-quantized: dequantize, add ΔW, quantize again with fresh statistics), and the logit change merged vs unmerged
 * on the probe batch. For a full-precision base the change is float32 rounding only.
 */
public record MergeReport(List<String> adapters, int requantizedLinears, OutputChange change) {
}
