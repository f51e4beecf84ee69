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
 * Implementations are stateless and thread-safe; all state lives in the {@link AdapterInstance}.
 */
public interface Adapter extends ExtensionPoint {

    /** The method id used in configurations ({@code method: lora}); unique among installed plugins. */
    String method();

    /** One line for {@code peft4j plugins}. */
    String description();

    /** The value of {@code peft_type} in {@code adapter_config.json}, e.g. {@code LORA}, {@code VERA}. */
    String peftType();

    /** The configuration record type (see {@link AdapterConfig}). */
    Class<? extends AdapterConfig> configType();

    /** The site kinds this method can attach to. */
    Set<SiteKind> siteKinds();

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
     * name its targets if it attaches to linear sites.
     */
    default List<String> defaultTargets(String architecture) {
        return List.of();
    }

    /**
     * Whether adapters of this method may serve individual rows of a mixed batch (PEFT's {@code adapter_names}):
     * each row's output must depend on that row's input only, through the method's linear site modules. False by
     * default; LoRA says true, DoRA false (its magnitude normalises the whole layer output; PEFT refuses it too).
     */
    default boolean supportsMixedBatch() {
        return false;
    }

    /** Creates and initialises the adapter on the given sites. */
    AdapterInstance create(String name, AdapterConfig config, List<SiteInfo> sites, AdapterContext ctx);
}
