/**
 * The peft4j service-provider interface: the only contract between the platform and method plugins.
 *
 * <p>A plugin jar contributes PF4J extensions implementing one or more of the extension points here:
 * <ul>
 *   <li>{@link io.peft4j.api.Adapter} - a PEFT method (LoRA, DoRA, VeRA, bottleneck adapters, prefix tuning ...):
 *       which sites of the model it attaches to, its configuration type, and how it builds its per-site modules
 *       and trainable parameters;</li>
 *   <li>{@link io.peft4j.api.Initializer} - initialises a factorised adapter from the base weight, possibly
 *       rewriting the base weight (PiSSA, MiLoRA);</li>
 *   <li>{@link io.peft4j.api.RankAllocator} - decides ranks per module, statically or during training (AdaLoRA);</li>
 *   <li>{@link io.peft4j.api.Quantizer} - stores frozen base weights compactly (NF4) and dequantises for compute;</li>
 *   <li>{@link io.peft4j.api.Merger} - combines several adapters into a new one (task arithmetic, TIES, DARE ...);</li>
 *   <li>{@link io.peft4j.api.OptimizerPolicy} - per-parameter-group learning rates and weight decay (LoRA+).</li>
 * </ul>
 * The last four take typed options: a record implementing {@link io.peft4j.api.ExtensionOptions} named by their
 * {@code optionsType()}, parsed by the platform with the same rules as an {@link io.peft4j.api.AdapterConfig}.
 *
 * <p>Tensors are DJL {@code NDArray}s created by the platform's single PyTorch engine; plugins never bundle DJL.
 * Shapes follow torch / Hugging Face conventions: a linear weight is {@code [out, in]} and
 * {@code y = x W^T + b}.
 */
package io.peft4j.api;
