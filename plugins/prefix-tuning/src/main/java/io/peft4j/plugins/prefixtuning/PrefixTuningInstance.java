package io.peft4j.plugins.prefixtuning;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import io.peft4j.api.AdapterConfig;
import io.peft4j.api.AdapterInstance;
import io.peft4j.api.ConfigException;
import io.peft4j.api.ParamRole;
import io.peft4j.api.Parameter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A prefix-tuning adapter. PEFT's saved state dict holds one key, {@code prompt_embeddings
 * [P, num_layers · 2 · token_dim]} with {@code token_dim = kv_heads · head_dim}: the plain table, or the
 * reparameterisation MLP's output folded from the current weights. In-memory names are PEFT's
 * ({@code prompt_encoder.<adapter>.embedding.weight}, {@code ….transform.0.weight}, {@code ….transform.2.weight}).
 */
record PrefixTuningInstance(String name, PrefixTuningConfig config, PrefixEncoder encoder,
                            Map<String, PrefixLayerModule> modules) implements AdapterInstance {
    static final String KEY = "prompt_embeddings";

    @Override
    public List<Parameter> parameters() {
        String p = "prompt_encoder." + name + ".";
        List<Parameter> out = new ArrayList<>();
        out.add(new Parameter(p + "embedding.weight", encoder.embedding, ParamRole.PREFIX, true));
        if (encoder.isProjected()) {
            out.add(new Parameter(p + "transform.0.weight", encoder.w1, ParamRole.DENSE, true));
            out.add(new Parameter(p + "transform.0.bias", encoder.b1, ParamRole.BIAS, true));
            out.add(new Parameter(p + "transform.2.weight", encoder.w2, ParamRole.DENSE, true));
            out.add(new Parameter(p + "transform.2.bias", encoder.b2, ParamRole.BIAS, true));
        }
        return out;
    }

    @Override
    public Map<String, NDArray> stateDict() {
        return Map.of(KEY, encoder.fold());
    }

    /**
     * Loads {@code prompt_embeddings}. A projected (training-time) encoder cannot take a folded table back; load
     * saved adapters through their saved config, which has {@code inference_mode: true} and builds a plain table.
     */
    @Override
    public Set<String> loadStateDict(Map<String, NDArray> tensors) {
        long width = (long) config.numLayers() * 2 * config.tokenDim();
        NDArray src = tensors.get(KEY);
        if (src == null) {
            throw new ConfigException(KEY, "missing from the adapter file; the model needs shape ("
                    + config.numVirtualTokens() + ", " + width + ")");
        }
        if (encoder.isProjected()) {
            throw new ConfigException(KEY, "cannot load a folded prefix into a prefix_projection encoder that is "
                    + "being trained; load it with inference_mode: true");
        }
        NDArray dst = encoder.embedding;
        if (!src.getShape().equals(dst.getShape())) {
            throw new ConfigException(KEY, "shape " + src.getShape() + " in the adapter file does not match "
                    + "num_virtual_tokens = " + config.numVirtualTokens() + " x (num_layers = " + config.numLayers()
                    + ") * 2 * (token_dim = kv_heads * head_dim = " + config.tokenDim() + "), i.e. "
                    + dst.getShape());
        }
        dst.set(new NDIndex("..."), src.toType(dst.getDataType(), false));
        return Set.of(KEY);
    }
}
