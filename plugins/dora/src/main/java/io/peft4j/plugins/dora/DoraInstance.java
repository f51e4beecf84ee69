package io.peft4j.plugins.dora;

import ai.djl.ndarray.NDArray;
import io.peft4j.api.AdapterInstance;
import io.peft4j.api.ParamRole;
import io.peft4j.api.Parameter;
import io.peft4j.plugins.lora.LoraFactors;
import java.util.List;
import java.util.Map;

/**
 * A DoRA adapter attached to a model. Saved keys (PEFT format, adapter name removed):
 * {@code base_model.model.<module>.lora_A.weight [r, in]}, {@code ...lora_B.weight [out, r]} and
 * {@code ...lora_magnitude_vector [out]}. The magnitude's in-memory name is
 * {@code ...lora_magnitude_vector.<adapter>.weight}; PEFT strips the {@code .weight} on save for backward
 * compatibility.
 */
record DoraInstance(String name, DoraConfig config, Map<String, DoraLayer> modules) implements AdapterInstance {
    static final String MAGNITUDE = "lora_magnitude_vector";
    private static final LoraFactors.ExtraTensor<DoraLayer> MAGNITUDE_VECTOR = new LoraFactors.ExtraTensor<>(
            MAGNITUDE, "weight", MAGNITUDE, ParamRole.MAGNITUDE, DoraLayer::magnitude);

    @Override
    public List<Parameter> parameters() {
        return LoraFactors.parameters(modules, name, MAGNITUDE_VECTOR);
    }

    @Override
    public Map<String, NDArray> stateDict() {
        return LoraFactors.stateDict(modules, MAGNITUDE_VECTOR);
    }
}
