package io.peft4j.plugins.lora;

import ai.djl.ndarray.NDArray;
import io.peft4j.api.AdapterInstance;
import io.peft4j.api.ParamRole;
import io.peft4j.api.Parameter;
import io.peft4j.api.PeftKeys;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A LoRA adapter attached to a model. Saved keys (PEFT format, adapter name removed):
 * {@code base_model.model.<module>.lora_A.weight [r, in]}, {@code ...lora_B.weight [out, r]} and, with
 * {@code lora_bias}, {@code ...lora_B.bias [out]}.
 */
record LoraInstance(String name, LoraConfig config, Map<String, LoraLayer> modules) implements AdapterInstance {
    @Override
    public List<Parameter> parameters() {
        List<Parameter> out = new ArrayList<>();
        modules.forEach((path, l) -> {
            LoraFactors.addParameters(out, path, name, l);
            if (l.loraBBias() != null) {
                out.add(new Parameter(PeftKeys.inMemory(path, "lora_B", name, "bias"), l.loraBBias(),
                        ParamRole.UP_BIAS, true));
            }
        });
        return out;
    }

    @Override
    public Map<String, NDArray> stateDict() {
        Map<String, NDArray> out = new LinkedHashMap<>();
        modules.forEach((path, l) -> {
            LoraFactors.putState(out, path, l);
            if (l.loraBBias() != null) {
                out.put(PeftKeys.saved(path, "lora_B.bias"), l.loraBBias());
            }
        });
        return out;
    }
}
