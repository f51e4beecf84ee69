package io.peft4j.api;

import java.util.List;
import java.util.Map;
import java.util.Set;
import org.pf4j.ExtensionPoint;

/**
 * A PEFT method, contributed by a plugin as a PF4J {@code @Extension}.
 *
 * <p>Contract:
 * <ol>
 *   <li>The platform parses the user's configuration (or a saved {@code adapter_config.json}) into
 *       {@link #configType()} and calls {@link AdapterConfig#validate()};</li>
 *   <li>it resolves the config's {@link TargetSpec} against the model's sites of the {@link #siteKinds() kinds}
 *       this method supports, and calls {@link #validate(AdapterConfig, List, ModelShape)} with the matched sites
 *       - still before any tensor exists;</li>
 *   <li>it calls {@link #create} once per adapter; the instance creates and initialises its tensors in
 *       {@link AdapterContext#manager()} and returns one module per site.</li>
 * </ol>
 * Implementations are stateless and thread-safe; all state lives in the {@link AdapterInstance}. An implementation
 * declares what it is in one {@link #descriptor()}; {@link #method()}, {@link #peftType()}, {@link #configType()},
 * {@link #siteKinds()}, {@link #description()}, {@link #defaultTargets} and {@link #supportsMixedBatch()} read it.
 */
public interface Adapter extends ExtensionPoint {

    /**
     * What this method is: its id, {@code peft_type}, config record, site kinds, description, default targets and
     * mixed-batch support, in one value. The accessors below read it; an adapter normally implements only this,
     * {@link #create} and whatever checks it needs ({@link #validate}, {@link #readsPeftConfig},
     * {@link #canShareSite}). Called often: return a constant or a cheaply built value.
     */
    AdapterDescriptor descriptor();

    /** The method id used in configurations ({@code method: lora}); unique among installed plugins. */
    default String method() {
        return descriptor().method();
    }

    /** One line for {@code peft4j plugins}. */
    default String description() {
        return descriptor().description();
    }

    /** The value of {@code peft_type} in {@code adapter_config.json}, e.g. {@code LORA}, {@code VERA}. */
    default String peftType() {
        return descriptor().peftType();
    }

    /** The configuration record type (see {@link AdapterConfig}). */
    default Class<? extends AdapterConfig> configType() {
        return descriptor().configType();
    }

    /** The site kinds this method can attach to. */
    default Set<SiteKind> siteKinds() {
        return descriptor().siteKinds();
    }

    /**
     * Whether a saved {@code adapter_config.json} (already parsed to a map) belongs to this method. LoRA accepts
     * {@code peft_type == "LORA"} without {@code use_dora}; DoRA accepts it with {@code use_dora: true}.
     */
    default boolean readsPeftConfig(Map<String, Object> adapterConfigJson) {
        return peftType().equals(adapterConfigJson.get("peft_type"));
    }

    /**
     * Checks the configuration against the concrete sites it matched (e.g. {@code r <= min(in, out)}), before
     * any tensor is created. Throw {@link ConfigException} naming the field, the module and the shapes.
     */
    default void validate(AdapterConfig config, List<SiteInfo> sites, ModelShape shape) {
    }

    /**
     * Whether this method may share a site with another adapter of method {@code otherMethod} in the same model
     * (checked when a composition declares both on one module).
     */
    default boolean canShareSite(String otherMethod) {
        return true;
    }

    /**
     * The modules this method adapts on a model of {@code model_type} {@code architecture} (e.g. {@code llama}) when
     * its config names none: Hugging Face PEFT's {@code TRANSFORMERS_MODELS_TO_*_TARGET_MODULES_MAPPING} (LoRA's for
     * Llama, Mistral and Qwen2: {@code q_proj, v_proj}). Empty (the default): no default, a config of this method must
     * name its targets if it attaches to linear sites. Read from {@link AdapterDescriptor#defaultTargets()}.
     */
    default List<String> defaultTargets(String architecture) {
        return descriptor().defaultTargets().apply(architecture);
    }

    /**
     * Whether adapters of this method may serve individual rows of a mixed batch (PEFT's {@code adapter_names}):
     * each row's output must depend on that row's input only, through the method's linear site modules. False by
     * default; LoRA says true, DoRA false (its magnitude normalises the whole layer output; PEFT refuses it too).
     * Read from {@link AdapterDescriptor#mixedBatch()}.
     */
    default boolean supportsMixedBatch() {
        return descriptor().mixedBatch();
    }

    /** Creates and initialises the adapter on the given sites. */
    AdapterInstance create(String name, AdapterConfig config, List<SiteInfo> sites, AdapterContext ctx);
}
