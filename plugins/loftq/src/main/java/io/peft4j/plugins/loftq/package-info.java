/**
 * LoftQ (Li et al. 2023, "LoftQ: LoRA-Fine-Tuning-Aware Quantization"): an {@link io.peft4j.api.Initializer} that
 * chooses the LoRA factors and the base weight to be quantized so that {@code Q(base) + s·B A} is close to the
 * full-precision weight, using the quantizer the run will store the base with. Depends on the pissa plugin (PF4J
 * plugin dependency) for the SVD, which comes from the platform's EJML.
 */
package io.peft4j.plugins.loftq;
