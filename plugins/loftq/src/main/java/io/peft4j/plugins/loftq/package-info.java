/**
 * LoftQ (Li et al. 2023, "LoftQ: LoRA-Fine-Tuning-Aware Quantization"): an {@link io.peft4j.api.Initializer} that
 * chooses the LoRA factors and the base weight to be quantized so that {@code Q(base) + s·B A} is close to the
 * full-precision weight, using the quantizer the run will store the base with. Depends on the pissa plugin (PF4J
 * plugin dependency) for its factor helper; the SVD comes from the platform's {@link io.peft4j.api.LinearAlgebra}.
 */
package io.peft4j.plugins.loftq;
