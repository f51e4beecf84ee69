/**
 * PiSSA (Meng et al. 2024, "Principal Singular values and Singular vectors Adaptation"): an
 * {@link io.peft4j.api.Initializer} that puts the top-r singular triplets of a linear weight into the LoRA factors
 * and leaves the residual in the base layer (reference spec section 5.1).
 *
 * <p>Dependencies: none beyond the SPI. The dense SVD (exact and randomized) comes from the platform's
 * {@link io.peft4j.api.LinearAlgebra} ({@code AdapterContext.linearAlgebra()}); LoftQ reuses
 * {@link io.peft4j.plugins.pissa.PissaInitializer#setScaledFactors} through a declared PF4J plugin dependency.
 */
package io.peft4j.plugins.pissa;
