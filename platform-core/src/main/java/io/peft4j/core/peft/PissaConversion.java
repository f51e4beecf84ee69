package io.peft4j.core.peft;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.peft4j.api.ConfigException;
import io.peft4j.api.Initializer;
import io.peft4j.api.LowRankUpdate;
import java.util.Map;

/**
 * Saves an adapter initialised by a base-rewriting initializer (PiSSA, MiLoRA: base {@code W_res = W - s·B0 A0}) as
 * a plain LoRA adapter for the <b>original</b> base weight {@code W} ({@code output.convert_to_lora}; PEFT's
 * {@code path_initial_model_for_weight_conversion}, spec section 5.3). The platform's part is the orchestration: the
 * initial factors {@code (A0, B0)} captured by {@link PeftModel#captureInitialFactors} go to the initializer's
 * {@link Initializer#convertForOriginalBase}, which owns the math and the config changes; the result is written in
 * PEFT's format by {@link AdapterFiles}.
 */
public final class PissaConversion {

    private PissaConversion() {
    }

    /**
     * A converted adapter, ready for {@link AdapterFiles}.
     *
     * @param config    the {@code adapter_config.json} content
     * @param stateDict the tensors under PEFT's saved key names
     */
    public record Converted(Map<String, Object> config, Map<String, NDArray> stateDict) {
    }

    /**
     * @param adapter       an adapter that {@code initializer} initialised
     * @param initializer   the installed initializer named by its {@code init_lora_weights}
     * @param initial       the factors {@code (A0, B0)} per module path captured right after initialisation
     *                      ({@link PeftModel#initialFactors})
     * @param baseModelName written as {@code base_model_name_or_path}
     * @param manager       owns the new tensors; the caller closes it after writing
     */
    public static Converted convert(AttachedAdapter adapter, Initializer initializer,
                                    Map<String, LowRankUpdate> initial, String baseModelName, NDManager manager) {
        if (!initializer.rewritesBase()) {
            throw new ConfigException("output.convert_to_lora", "adapter '" + adapter.name() + "': initializer "
                    + initializer.id() + " does not rewrite the base weights, so there is nothing to convert");
        }
        Initializer.OriginalBaseAdapter c;
        try {
            c = initializer.convertForOriginalBase(adapter.instance(), initial, manager);
        } catch (ConfigException e) {
            throw e.under("output.convert_to_lora");
        }
        return new Converted(AdapterConfigCodec.toPeftJson(adapter.method(), c.config(), baseModelName),
                c.stateDict());
    }
}
