/**
 * LoRA+ (Hayou et al. 2024): an {@link io.peft4j.api.OptimizerPolicy} that gives the up-projection {@code B} a
 * learning rate {@code ratio} times that of {@code A}, as Hugging Face PEFT's {@code create_loraplus_optimizer}
 * (reference spec section 6). It selects parameters by {@link io.peft4j.api.ParamRole}, so it applies to every method
 * whose plugin labels its parameters (LoRA, DoRA, AdaLoRA ...).
 */
package io.peft4j.plugins.loraplus;
