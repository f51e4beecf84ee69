package io.peft4j.plugins.lora;

import ai.djl.ndarray.NDArray;
import io.peft4j.api.AdapterInstance;
import io.peft4j.api.ParamRole;
import io.peft4j.api.Parameter;
import java.util.List;
import java.util.Map;

/**
 * A LoRA adapter attached to a model. Saved keys (PEFT format, adapter name removed):
 * {@code base_model.model.<module>.lora_A.weight [r, in]}, {@code ...lora_B.weight [out, r]} and, with
 * {@code lora_bias}, {@code ...lora_B.bias [out]}.
 */
record LoraInstance(String name, LoraConfig config, Map<String, LoraLayer> modules) implements AdapterInstance {
    private static final LoraFactors.ExtraTensor<LoraLayer> BIAS = new LoraFactors.ExtraTensor<>("lora_B", "bias",
            "lora_B.bias", ParamRole.UP_BIAS, LoraLayer::loraBBias);

    @Override
    public List<Parameter> parameters() {
        return LoraFactors.parameters(modules, name, BIAS);
    }

    @Override
    public Map<String, NDArray> stateDict() {
        return LoraFactors.stateDict(modules, BIAS);
    }
}
