package io.peft4j.plugins.prompttuning;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import io.peft4j.api.VirtualTokenConfig;
import io.peft4j.api.ConfigException;
import io.peft4j.api.TargetSpec;
import java.util.List;
import java.util.Map;

/**
 * Prompt-tuning hyper-parameters, with the keys of Hugging Face PEFT's {@code PromptTuningConfig}
 * ({@code peft_type "PROMPT_TUNING"}); defaults are PEFT's.
 *
 * @param numVirtualTokens         number of trainable virtual tokens P (required, positive)
 * @param tokenDim                 embedding width; filled in from the model ({@code hidden_size}) and must equal it
 * @param numTransformerSubmodules 1 for decoder-only models (filled in)
 * @param numAttentionHeads        informational, filled in from the model
 * @param numLayers                informational, filled in from the model
 * @param promptTuningInit         {@code RANDOM} (default; {@code N(0, 1)} as {@code nn.Embedding}) or {@code TEXT}
 * @param promptTuningInitText     the text whose token embeddings initialise the prompt ({@code TEXT} only): its
 *                                 token ids are repeated until P are available and cut to P, as PEFT does. Unlike
 *                                 PEFT, a text of more than P tokens is an error instead of being truncated silently
 * @param tokenizerNameOrPath      informational (PEFT loads this tokenizer; peft4j uses the base model's)
 * @param tokenizerKwargs          informational
 * @param inferenceMode            true in saved configs: the prompt is then loaded, not initialised
 */
public record PromptTuningConfig(
        @JsonProperty("num_virtual_tokens") Integer numVirtualTokens,
        @JsonProperty("token_dim") Integer tokenDim,
        @JsonProperty("num_transformer_submodules") Integer numTransformerSubmodules,
        @JsonProperty("num_attention_heads") Integer numAttentionHeads,
        @JsonProperty("num_layers") Integer numLayers,
        @JsonProperty("prompt_tuning_init") String promptTuningInit,
        @JsonProperty("prompt_tuning_init_text") String promptTuningInitText,
        @JsonProperty("tokenizer_name_or_path") String tokenizerNameOrPath,
        @JsonProperty("tokenizer_kwargs") Map<String, Object> tokenizerKwargs,
        @JsonProperty("inference_mode") Boolean inferenceMode,
        @JsonProperty("task_type") String taskType,
        @JsonProperty("base_model_name_or_path") String baseModelNameOrPath) implements VirtualTokenConfig {

    static final List<String> INITS = List.of("RANDOM", "TEXT");

    public PromptTuningConfig {
        promptTuningInit = promptTuningInit == null ? "RANDOM" : promptTuningInit;
        inferenceMode = inferenceMode != null && inferenceMode;
    }

    public static PromptTuningConfig random(int numVirtualTokens) {
        return new PromptTuningConfig(numVirtualTokens, null, null, null, null, null, null, null, null, null, null,
                null);
    }

    public static PromptTuningConfig text(int numVirtualTokens, String text) {
        return new PromptTuningConfig(numVirtualTokens, null, null, null, null, "TEXT", text, null, null, null, null,
                null);
    }

    /** This config with the model-derived fields filled in (what is saved). */
    PromptTuningConfig completed(int hidden, int heads, int layers) {
        return new PromptTuningConfig(numVirtualTokens, hidden, 1, heads, layers, promptTuningInit,
                promptTuningInitText, tokenizerNameOrPath, tokenizerKwargs, inferenceMode, taskType,
                baseModelNameOrPath);
    }

    /** Prompt tuning always acts on the input embeddings; it has no target modules. */
    @Override
    @JsonIgnore
    public TargetSpec targetSpec() {
        return new TargetSpec(null, null, false, null, null, null, null);
    }

    /** The virtual tokens take {@code num_virtual_tokens} positions of the model's context. */
    @Override
    public int virtualTokens() {
        return numVirtualTokens == null ? 0 : numVirtualTokens;
    }

    @Override
    public void validate() {
        if (numVirtualTokens == null || numVirtualTokens <= 0) {
            throw new ConfigException("num_virtual_tokens", "must be a positive integer, got " + numVirtualTokens);
        }
        if (!INITS.contains(promptTuningInit)) {
            throw new ConfigException("prompt_tuning_init", "expected one of " + INITS + ", got \""
                    + promptTuningInit + "\"");
        }
        if ("TEXT".equals(promptTuningInit) && !inferenceMode
                && (promptTuningInitText == null || promptTuningInitText.isBlank())) {
            throw new ConfigException("prompt_tuning_init_text", "required (non-empty) when prompt_tuning_init is "
                    + "TEXT");
        }
        if (numTransformerSubmodules != null && numTransformerSubmodules != 1) {
            throw new ConfigException("num_transformer_submodules", "must be 1 for decoder-only models, got "
                    + numTransformerSubmodules);
        }
    }
}
