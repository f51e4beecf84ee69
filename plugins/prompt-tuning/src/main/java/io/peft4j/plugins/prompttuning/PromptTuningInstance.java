package io.peft4j.plugins.prompttuning;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import io.peft4j.api.AdapterConfig;
import io.peft4j.api.AdapterInstance;
import io.peft4j.api.ConfigException;
import io.peft4j.api.ParamRole;
import io.peft4j.api.Parameter;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A prompt-tuning adapter. PEFT's saved state dict holds one key, {@code prompt_embeddings [P, hidden]}; the
 * in-memory parameter name is PEFT's {@code prompt_encoder.<adapter>.embedding.weight}.
 */
final class PromptTuningInstance implements AdapterInstance {
    static final String KEY = "prompt_embeddings";
    private final String name;
    private final PromptTuningConfig config;
    private final PromptEmbeddingModule module;

    PromptTuningInstance(String name, PromptTuningConfig config, PromptEmbeddingModule module) {
        this.name = name;
        this.config = config;
        this.module = module;
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
    public Map<String, PromptEmbeddingModule> modules() {
        return Map.of(module.site().path(), module);
    }

    @Override
    public List<Parameter> parameters() {
        return List.of(new Parameter("prompt_encoder." + name + ".embedding.weight", module.embedding(),
                ParamRole.PROMPT, true));
    }

    @Override
    public Map<String, NDArray> stateDict() {
        return Map.of(KEY, module.embedding());
    }

    @Override
    public Set<String> loadStateDict(Map<String, NDArray> tensors) {
        NDArray src = tensors.get(KEY);
        NDArray dst = module.embedding();
        if (src == null) {
            throw new ConfigException(KEY, "missing from the adapter file; the model needs shape " + dst.getShape()
                    + " (num_virtual_tokens x hidden_size)");
        }
        if (!src.getShape().equals(dst.getShape())) {
            throw new ConfigException(KEY, "shape " + src.getShape() + " in the adapter file does not match "
                    + "num_virtual_tokens = " + config.numVirtualTokens() + " x hidden_size = " + dst.getShape().get(1)
                    + ", i.e. " + dst.getShape());
        }
        dst.set(new NDIndex("..."), src.toType(dst.getDataType(), false));
        return Set.of(KEY);
    }
}
