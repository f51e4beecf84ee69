/**
 * MiLoRA (Wang et al. 2024, "Minor singular components for parameter-efficient fine-tuning"): an
 * {@link io.peft4j.api.Initializer} that puts the <i>smallest</i> r singular triplets of a linear weight into the
 * LoRA factors and leaves the rest in the base layer (reference spec section 5.2). Not part of Hugging Face PEFT
 * (whose {@code "mica"} is a different method); the reference is the authors' {@code svd_init.py, mode="min"}.
 *
 * <p>Dependencies: none beyond the SPI; the dense SVD comes from the platform's {@link io.peft4j.api.LinearAlgebra}.
 */
package io.peft4j.plugins.milora;
