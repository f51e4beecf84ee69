/**
 * PiSSA (Meng et al. 2024, "Principal Singular values and Singular vectors Adaptation"): an
 * {@link io.peft4j.api.Initializer} that puts the top-r singular triplets of a linear weight into the LoRA factors
 * and leaves the residual in the base layer (reference spec section 5.1).
 *
 * <p>Dependencies: the dense SVD and QR come from EJML ({@code org.ejml:ejml-simple}), which the <b>platform
 * supplies</b>: platform-core depends on it, so it is in the distribution's {@code lib/}. The plugin declares it
 * {@code provided} and does not bundle it; PF4J's plugin class loader finds no {@code org.ejml} class in the plugin
 * jar and falls back to the application class loader. Matrix products of the randomized variant run in DJL.
 */
package io.peft4j.plugins.pissa;
