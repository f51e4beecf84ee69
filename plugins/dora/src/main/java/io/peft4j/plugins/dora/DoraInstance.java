package io.peft4j.plugins.dora;

import ai.djl.ndarray.NDArray;
import io.peft4j.api.AdapterConfig;
import io.peft4j.api.AdapterInstance;
import io.peft4j.api.ConfigException;
import io.peft4j.api.ParamRole;
import io.peft4j.api.Parameter;
import io.peft4j.api.PeftKeys;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A DoRA adapter attached to a model. Saved keys (PEFT format, adapter name removed):
 * {@code base_model.model.<module>.lora_A.weight [r, in]}, {@code ...lora_B.weight [out, r]} and
 * {@code ...lora_magnitude_vector [out]}. The magnitude's in-memory name is
 * {@code ...lora_magnitude_vector.<adapter>.weight}; PEFT strips the {@code .weight} on save for backward
 * compatibility.
 */
final class DoraInstance implements AdapterInstance {
    static final String MAGNITUDE = "lora_magnitude_vector";
    private final String name;
    private final DoraConfig config;
    private final Map<String, DoraLayer> layers;

    DoraInstance(String name, DoraConfig config, Map<String, DoraLayer> layers) {
        this.name = name;
        this.config = config;
        this.layers = layers;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public AdapterConfig config() {
        return config;
    }

    @Override
    public Map<String, DoraLayer> modules() {
        return layers;
    }

    @Override
    public List<Parameter> parameters() {
        List<Parameter> out = new ArrayList<>();
        layers.forEach((path, l) -> {
            out.add(new Parameter(PeftKeys.inMemory(path, "lora_A", name, "weight"), l.loraA(), ParamRole.DOWN, true));
            out.add(new Parameter(PeftKeys.inMemory(path, "lora_B", name, "weight"), l.loraB(), ParamRole.UP, true));
            out.add(new Parameter(PeftKeys.inMemory(path, MAGNITUDE, name, "weight"), l.magnitude(),
                    ParamRole.MAGNITUDE, true));
        });
        return out;
    }

    @Override
    public Map<String, NDArray> stateDict() {
        Map<String, NDArray> out = new LinkedHashMap<>();
        layers.forEach((path, l) -> {
            out.put(PeftKeys.saved(path, "lora_A.weight"), l.loraA());
            out.put(PeftKeys.saved(path, "lora_B.weight"), l.loraB());
            out.put(PeftKeys.saved(path, MAGNITUDE), l.magnitude());
        });
        return out;
    }

    /**
     * Copies the saved tensors into the adapter in place. All keys are checked before anything is written, so a
     * mismatching file leaves the adapter unchanged.
     */
    @Override
    public Set<String> loadStateDict(Map<String, NDArray> tensors) {
        Map<String, NDArray> expected = stateDict();
        for (Map.Entry<String, NDArray> e : expected.entrySet()) {
            NDArray src = tensors.get(e.getKey());
            if (src == null) {
                throw new ConfigException(e.getKey(), "missing from the adapter file (the model's module needs shape "
                        + e.getValue().getShape() + ")");
            }
            if (!src.getShape().equals(e.getValue().getShape())) {
                throw new ConfigException(e.getKey(), "shape " + src.getShape() + " in the adapter file does not match "
                        + "module " + modulePath(e.getKey()) + ", which needs " + e.getValue().getShape());
            }
        }
        for (Map.Entry<String, NDArray> e : expected.entrySet()) {
            DoraLayer.copyInto(e.getValue(), tensors.get(e.getKey()), e.getKey());
        }
        return new HashSet<>(expected.keySet());
    }

    private String modulePath(String key) {
        for (String path : layers.keySet()) {
            if (key.startsWith(PeftKeys.MODEL_PREFIX + path + ".")) {
                return path;
            }
        }
        return key;
    }
}
