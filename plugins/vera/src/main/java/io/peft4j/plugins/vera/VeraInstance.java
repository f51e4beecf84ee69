package io.peft4j.plugins.vera;

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
 * A VeRA adapter attached to a model. Saved keys (PEFT format, adapter name removed):
 * {@code base_model.model.<module>.vera_lambda_b [out]}, {@code ...vera_lambda_d [r]} per layer and, with
 * {@code save_projection}, once {@code base_model.vera_A [r, max_in]} and {@code base_model.vera_B [max_out, r]}.
 * Without {@code save_projection} the projections regenerated from {@code projection_prng_key} are kept on load.
 *
 * @param veraA the shared projection {@code vera_A [r, max_in]}
 * @param veraB the shared projection {@code vera_B [max_out, r]}
 */
record VeraInstance(String name, VeraConfig config, Map<String, VeraLayer> modules, NDArray veraA, NDArray veraB)
        implements AdapterInstance {
    static final String KEY_A = "base_model.vera_A";
    static final String KEY_B = "base_model.vera_B";

    @Override
    public List<Parameter> parameters() {
        List<Parameter> out = new ArrayList<>();
        modules.forEach((path, l) -> {
            out.add(new Parameter(PeftKeys.inMemory(path, "vera_lambda_b", name, null), l.lambdaB(),
                    ParamRole.VECTOR, true));
            out.add(new Parameter(PeftKeys.inMemory(path, "vera_lambda_d", name, null), l.lambdaD(),
                    ParamRole.VECTOR, true));
        });
        out.add(new Parameter(KEY_A + "." + name, veraA, ParamRole.FROZEN_STATE, false));
        out.add(new Parameter(KEY_B + "." + name, veraB, ParamRole.FROZEN_STATE, false));
        return out;
    }

    @Override
    public Map<String, NDArray> stateDict() {
        Map<String, NDArray> out = new LinkedHashMap<>();
        modules.forEach((path, l) -> {
            out.put(PeftKeys.saved(path, "vera_lambda_b"), l.lambdaB());
            out.put(PeftKeys.saved(path, "vera_lambda_d"), l.lambdaD());
        });
        if (config.saveProjection()) {
            out.put(KEY_A, veraA);
            out.put(KEY_B, veraB);
        }
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
                String hint = e.getKey().equals(KEY_A) || e.getKey().equals(KEY_B)
                        ? " (the config says save_projection: true)" : "";
                throw new ConfigException(e.getKey(), "missing from the adapter file" + hint
                        + "; the model needs shape " + e.getValue().getShape());
            }
            if (!src.getShape().equals(e.getValue().getShape())) {
                throw new ConfigException(e.getKey(), "shape " + src.getShape() + " in the adapter file does not match "
                        + describe(e.getKey()) + ", which needs " + e.getValue().getShape());
            }
        }
        for (Map.Entry<String, NDArray> e : expected.entrySet()) {
            VeraLayer.copyInto(e.getValue(), tensors.get(e.getKey()), e.getKey());
        }
        return new HashSet<>(expected.keySet());
    }

    private String describe(String key) {
        if (key.equals(KEY_A) || key.equals(KEY_B)) {
            int maxIn = (int) veraA.getShape().get(1);
            int maxOut = (int) veraB.getShape().get(0);
            return "the shared projection (r=" + config.r() + ", sized over the targeted modules: max_in=" + maxIn
                    + ", max_out=" + maxOut + ")";
        }
        for (String path : modules.keySet()) {
            if (key.startsWith(PeftKeys.MODEL_PREFIX + path + ".")) {
                VeraLayer l = modules.get(path);
                return "module " + path + " [out=" + l.site().outFeatures() + ", in=" + l.site().inFeatures()
                        + ", r=" + config.r() + "]";
            }
        }
        return key;
    }
}
