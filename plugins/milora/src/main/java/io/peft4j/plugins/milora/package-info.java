/**
 * MiLoRA (Wang et al. 2024, "Minor singular components for parameter-efficient fine-tuning"): an
 * {@link io.peft4j.api.Initializer} that puts the <i>smallest</i> r singular triplets of a linear weight into the
 * LoRA factors and leaves the rest in the base layer (reference spec section 5.2). Not part of Hugging Face PEFT
 * (whose {@code "mica"} is a different method); the reference is the authors' {@code svd_init.py, mode="min"}.
 *
 * <p>Dependencies: the dense SVD comes from EJML ({@code org.ejml:ejml-simple}), which the <b>platform
 * supplies</b> (platform-core depends on it, so it is in the distribution's {@code lib/}). The plugin declares it
 * {@code provided}; PF4J's plugin class loader falls back to the application class loader for {@code org.ejml}.
 */
package io.peft4j.plugins.milora;
