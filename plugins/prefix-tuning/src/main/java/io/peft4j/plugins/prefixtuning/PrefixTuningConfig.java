package io.peft4j.plugins.prefixtuning;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import io.peft4j.api.VirtualTokenConfig;
import io.peft4j.api.ConfigException;
import io.peft4j.api.ModelShape;
import io.peft4j.api.TargetSpec;

/**
 * Prefix-tuning hyper-parameters, with the keys of Hugging Face PEFT's {@code PrefixTuningConfig}
 * ({@code peft_type "PREFIX_TUNING"}); defaults and derived values are PEFT's
 * ({@code _prepare_prompt_learning_config}):
 * <ul>
 *   <li>{@code token_dim} defaults to {@code hidden_size}, {@code num_attention_heads} to the model's, and
 *       {@code num_layers} to {@code num_hidden_layers};</li>
 *   <li>grouped-query attention: {@code token_dim ← token_dim / num_attention_heads · num_key_value_heads} and
 *       {@code num_attention_heads ← num_key_value_heads}, so {@code token_dim} is the key/value width
 *       {@code kv_heads · head_dim} (idempotent: a saved config reloads to the same values);</li>
 *   <li>{@code encoder_hidden_size} defaults to the (adjusted) {@code token_dim}.</li>
 * </ul>
 *
 * @param numVirtualTokens         prefix length P (required, positive)
 * @param prefixProjection         train the prefix through the reparameterisation MLP
 *                                 {@code Linear(token_dim, encoder_hidden_size) → tanh → Linear(…, 2·L·token_dim)}
 *                                 (folded away when saving)
 * @param encoderHiddenSize        hidden width of that MLP
 * @param inferenceMode            true in saved configs: the prefix is a plain table (PEFT loads it so even when
 *                                 {@code prefix_projection} is true)
 */
public record PrefixTuningConfig(
        @JsonProperty("num_virtual_tokens") Integer numVirtualTokens,
        @JsonProperty("token_dim") Integer tokenDim,
        @JsonProperty("num_transformer_submodules") Integer numTransformerSubmodules,
        @JsonProperty("num_attention_heads") Integer numAttentionHeads,
        @JsonProperty("num_layers") Integer numLayers,
        @JsonProperty("encoder_hidden_size") Integer encoderHiddenSize,
        @JsonProperty("prefix_projection") Boolean prefixProjection,
        @JsonProperty("inference_mode") Boolean inferenceMode,
        @JsonProperty("task_type") String taskType,
        @JsonProperty("base_model_name_or_path") String baseModelNameOrPath) implements VirtualTokenConfig {

    public PrefixTuningConfig {
        prefixProjection = prefixProjection != null && prefixProjection;
        inferenceMode = inferenceMode != null && inferenceMode;
    }

    public static PrefixTuningConfig of(int numVirtualTokens, boolean prefixProjection) {
        return new PrefixTuningConfig(numVirtualTokens, null, null, null, null, null, prefixProjection, null, null,
                null);
    }

    /** This config with PEFT's derived values for the given model (what is used and saved). */
    PrefixTuningConfig completed(ModelShape shape) {
        int heads = numAttentionHeads != null ? numAttentionHeads : shape.numAttentionHeads();
        int dim = tokenDim != null ? tokenDim : shape.hiddenSize();
        int kvDim = dim / heads * shape.numKeyValueHeads();
        int layers = numLayers != null ? numLayers : shape.numLayers();
        int enc = encoderHiddenSize != null ? encoderHiddenSize : kvDim;
        return new PrefixTuningConfig(numVirtualTokens, kvDim, 1, shape.numKeyValueHeads(), layers, enc,
                prefixProjection, inferenceMode, taskType, baseModelNameOrPath);
    }

    /** Whether the MLP is built (training-time reparameterisation). */
    boolean projected() {
        return prefixProjection && !inferenceMode;
    }

    /** Prefix tuning acts on every attention layer; it has no target modules. */
    @Override
    @JsonIgnore
    public TargetSpec targetSpec() {
        return new TargetSpec(null, null, false, null, null, null, null);
    }

    /** The prefix tokens take {@code num_virtual_tokens} positions of the model's context. */
    @Override
    public int virtualTokens() {
        return numVirtualTokens == null ? 0 : numVirtualTokens;
    }

    @Override
    public void validate() {
        if (numVirtualTokens == null || numVirtualTokens <= 0) {
            throw new ConfigException("num_virtual_tokens", "must be a positive integer, got " + numVirtualTokens);
        }
        if (encoderHiddenSize != null && encoderHiddenSize <= 0) {
            throw new ConfigException("encoder_hidden_size", "must be a positive integer, got " + encoderHiddenSize);
        }
        if (numTransformerSubmodules != null && numTransformerSubmodules != 1) {
            throw new ConfigException("num_transformer_submodules", "must be 1 for decoder-only models, got "
                    + numTransformerSubmodules);
        }
    }
}
