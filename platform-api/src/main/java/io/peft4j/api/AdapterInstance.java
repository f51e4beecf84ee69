package io.peft4j.api;

import ai.djl.ndarray.NDArray;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One named adapter attached to one model: its per-site modules and its tensors. Created by
 * {@link Adapter#create}; the platform owns its lifecycle (activation, merging, saving, deleting).
 */
public interface AdapterInstance {

    /** The adapter name, e.g. {@code default}. */
    String name();

    /** The configuration in force (it may evolve during training, e.g. AdaLoRA's {@code rank_pattern}). */
    AdapterConfig config();

    /** Module per site path. Each value implements the sub-interface of {@link SiteModule} for its site kind. */
    Map<String, ? extends SiteModule> modules();

    /** Every tensor of the adapter, trainable and frozen (frozen shared state included). */
    List<Parameter> parameters();

    /**
     * The tensors to save, under Hugging Face PEFT's saved key names (adapter name removed), e.g.
     * {@code base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight}. See {@link PeftKeys}.
     */
    Map<String, NDArray> stateDict();

    /**
     * Loads saved tensors. Every expected key must be present with the expected shape; otherwise throw
     * {@link ConfigException} naming the key (module) and both shapes. Unknown keys are reported by the caller.
     *
     * <p>The default copies each tensor of {@link #stateDict()} in place (so parameter references stay valid), after
     * checking all keys and shapes first so that a failed load changes nothing. Override it when the saved layout
     * differs from the in-memory one (e.g. ranks pruned on save).
     *
     * @return the keys of {@code tensors} that were used
     */
    default java.util.Set<String> loadStateDict(Map<String, NDArray> tensors) {
        Map<String, NDArray> own = stateDict();
        for (Map.Entry<String, NDArray> e : own.entrySet()) {
            NDArray src = tensors.get(e.getKey());
            if (src == null) {
                throw new ConfigException(e.getKey(), "missing from the adapter file (the module needs shape "
                        + e.getValue().getShape() + ")");
            }
            if (!src.getShape().equals(e.getValue().getShape())) {
                throw new ConfigException(e.getKey(), "shape " + src.getShape() + " in the adapter file does not "
                        + "match the model's module, which needs " + e.getValue().getShape());
            }
        }
        for (Map.Entry<String, NDArray> e : own.entrySet()) {
            NDArray dst = e.getValue();
            dst.set(new ai.djl.ndarray.index.NDIndex("..."), tensors.get(e.getKey()).toType(dst.getDataType(), false));
        }
        return own.keySet();
    }

    /**
     * An extra loss term added to the task loss in training (AdaLoRA's orthogonal regulariser), or empty.
     */
    default Optional<NDArray> auxiliaryLoss(ForwardContext ctx) {
        return Optional.empty();
    }
}
