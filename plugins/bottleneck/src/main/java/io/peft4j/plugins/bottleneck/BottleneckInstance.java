package io.peft4j.plugins.bottleneck;

import ai.djl.ndarray.NDArray;
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
 * A bottleneck adapter attached to a model. Saved keys (a peft4j format; Hugging Face PEFT has no bottleneck
 * adapter), per sub-layer site {@code M = base_model.model.<site path>}:
 * {@code M.adapter_down.weight [m, h]}, {@code M.adapter_down.bias [m]}, {@code M.adapter_up.weight [h, m]},
 * {@code M.adapter_up.bias [h]}.
 */
record BottleneckInstance(String name, BottleneckConfig config, Map<String, BottleneckModule> modules) implements AdapterInstance {
    @Override
    public List<Parameter> parameters() {
        List<Parameter> out = new ArrayList<>();
        modules.forEach((path, m) -> {
            out.add(new Parameter(PeftKeys.inMemory(path, "adapter_down", name, "weight"), m.downWeight(),
                    ParamRole.DENSE, true));
            out.add(new Parameter(PeftKeys.inMemory(path, "adapter_down", name, "bias"), m.downBias(),
                    ParamRole.BIAS, true));
            out.add(new Parameter(PeftKeys.inMemory(path, "adapter_up", name, "weight"), m.upWeight(),
                    ParamRole.DENSE, true));
            out.add(new Parameter(PeftKeys.inMemory(path, "adapter_up", name, "bias"), m.upBias(),
                    ParamRole.BIAS, true));
        });
        return out;
    }

    @Override
    public Map<String, NDArray> stateDict() {
        Map<String, NDArray> out = new LinkedHashMap<>();
        modules.forEach((path, m) -> {
            out.put(PeftKeys.saved(path, "adapter_down.weight"), m.downWeight());
            out.put(PeftKeys.saved(path, "adapter_down.bias"), m.downBias());
            out.put(PeftKeys.saved(path, "adapter_up.weight"), m.upWeight());
            out.put(PeftKeys.saved(path, "adapter_up.bias"), m.upBias());
        });
        return out;
    }

    private int widthOf(String key) {
        for (Map.Entry<String, BottleneckModule> m : modules.entrySet()) {
            if (key.startsWith(PeftKeys.MODEL_PREFIX + m.getKey() + ".")) {
                return m.getValue().width();
            }
        }
        return -1;
    }

    /** Checks every key and shape first, then copies, so a mismatching file leaves the adapter unchanged. */
    @Override
    public Set<String> loadStateDict(Map<String, NDArray> tensors) {
        Map<String, NDArray> expected = stateDict();
        for (Map.Entry<String, NDArray> e : expected.entrySet()) {
            NDArray src = tensors.get(e.getKey());
            if (src == null) {
                throw new ConfigException(e.getKey(), "missing from the adapter file; the model needs shape "
                        + e.getValue().getShape());
            }
            if (!src.getShape().equals(e.getValue().getShape())) {
                throw new ConfigException(e.getKey(), "shape " + src.getShape() + " in the adapter file does not "
                        + "match the bottleneck adapter (width " + widthOf(e.getKey()) + "), which needs "
                        + e.getValue().getShape());
            }
        }
        for (Map.Entry<String, NDArray> e : expected.entrySet()) {
            BottleneckModule.copyInto(e.getValue(), tensors.get(e.getKey()));
        }
        return new HashSet<>(expected.keySet());
    }
}
