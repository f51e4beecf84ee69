package io.peft4j.plugins.dora;

import com.fasterxml.jackson.annotation.JsonProperty;
import io.peft4j.api.ConfigException;
import io.peft4j.api.LowRankSettings;
import io.peft4j.plugins.lora.LoraFamilyConfig;
import io.peft4j.plugins.lora.LoraRules;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * DoRA hyper-parameters. Hugging Face PEFT has no DoRA config of its own: it writes a {@code LoraConfig} with
 * {@code use_dora: true} and {@code peft_type: "LORA"}, so the field names here are exactly LoRA's and
 * {@code use_dora} defaults to (and must be) true. Defaults are PEFT's. The rank, alpha and scaling rules are LoRA's
 * ({@link LoraFamilyConfig}).
 *
 * @param r                 rank (default 8)
 * @param loraAlpha         alpha (default 8); scaling {@code s = alpha / r}, or {@code alpha / sqrt(r)} with rsLoRA
 * @param loraDropout       dropout on the adapter input (default 0); with p &gt; 0 in training the DoRA correction
 *                          uses the dropped-out input too (see {@link DoraLayer})
 * @param useRslora         rank-stabilised scaling
 * @param bias              {@code none | all | lora_only}: PEFT trains and saves those base biases; peft4j does not,
 *                          so the platform accepts all / lora_only only where they select no bias (BaseTrainingOptions)
 * @param loraBias          must be false: PEFT does not allow {@code lora_bias} with DoRA
 * @param targetModules     list of names (exact or {@code .}-suffix), one regex (full match), or {@code "all-linear"}
 * @param excludeModules    same forms; wins over targets
 * @param initLoraWeights   {@code true} (A kaiming-uniform, B = 0), {@code false} (both random), {@code "gaussian"}
 *                          (A ~ N(0, 1/r), B = 0), or the id of an installed initializer ({@code "pissa"}, ...)
 * @param rankPattern       module-key pattern to rank override
 * @param alphaPattern      module-key pattern to alpha override
 * @param useDora           always true for this method (written back so PEFT reads the adapter as DoRA)
 * @param layersToTransform keep only these decoder layer indices (int or list)
 * @param layersPattern     the path component that precedes the layer index (e.g. {@code layers})
 * @param modulesToSave     extra modules PEFT trains fully; not supported, rejected by the platform
 * @param fanInFanOut       GPT-2 Conv1D layout; not applicable to Llama, must be false
 * @param taskType          informational, e.g. {@code CAUSAL_LM}
 * @param baseModelNameOrPath informational
 */
public record DoraConfig(
        @JsonProperty("r") Integer r,
        @JsonProperty("lora_alpha") Double loraAlpha,
        @JsonProperty("lora_dropout") Double loraDropout,
        @JsonProperty("use_rslora") Boolean useRslora,
        @JsonProperty("bias") String bias,
        @JsonProperty("lora_bias") Boolean loraBias,
        @JsonProperty("target_modules") Object targetModules,
        @JsonProperty("exclude_modules") Object excludeModules,
        @JsonProperty("init_lora_weights") Object initLoraWeights,
        @JsonProperty("rank_pattern") Map<String, Integer> rankPattern,
        @JsonProperty("alpha_pattern") Map<String, Double> alphaPattern,
        @JsonProperty("use_dora") Boolean useDora,
        @JsonProperty("layers_to_transform") Object layersToTransform,
        @JsonProperty("layers_pattern") String layersPattern,
        @JsonProperty("modules_to_save") List<String> modulesToSave,
        @JsonProperty("fan_in_fan_out") Boolean fanInFanOut,
        @JsonProperty("task_type") String taskType,
        @JsonProperty("base_model_name_or_path") String baseModelNameOrPath) implements LoraFamilyConfig {

    public DoraConfig {
        r = r == null ? 8 : r;
        loraAlpha = loraAlpha == null ? 8.0 : loraAlpha;
        loraDropout = loraDropout == null ? 0.0 : loraDropout;
        useRslora = useRslora != null && useRslora;
        bias = bias == null ? "none" : bias;
        loraBias = loraBias != null && loraBias;
        initLoraWeights = initLoraWeights == null ? Boolean.TRUE : initLoraWeights;
        rankPattern = rankPattern == null ? Map.of() : new LinkedHashMap<>(rankPattern);
        alphaPattern = alphaPattern == null ? Map.of() : new LinkedHashMap<>(alphaPattern);
        useDora = useDora == null || useDora;
        fanInFanOut = fanInFanOut != null && fanInFanOut;
        modulesToSave = modulesToSave == null ? List.of() : List.copyOf(modulesToSave);
    }

    /** A config with PEFT defaults and the given rank, alpha and targets. */
    public static DoraConfig of(int r, double alpha, Object targetModules) {
        return new DoraConfig(r, alpha, null, null, null, null, targetModules, null, null, null, null, null, null,
                null, null, null, null, null);
    }

    /** A copy with the given rank, alpha, rsLoRA flag, patterns and {@code init_lora_weights}. */
    @Override
    public DoraConfig withLowRank(LowRankSettings s) {
        return new DoraConfig(s.r(), s.alpha(), loraDropout, s.useRslora(), bias, loraBias, targetModules,
                excludeModules, LoraFamilyConfig.initValue(s.initializer()), s.rankPattern(), s.alphaPattern(),
                useDora, layersToTransform, layersPattern, modulesToSave, fanInFanOut, taskType, baseModelNameOrPath);
    }

    @Override
    public DoraConfig withTargetModules(Object targets) {
        return new DoraConfig(r, loraAlpha, loraDropout, useRslora, bias, loraBias, targets, excludeModules,
                initLoraWeights, rankPattern, alphaPattern, useDora, layersToTransform, layersPattern, modulesToSave,
                fanInFanOut, taskType, baseModelNameOrPath);
    }

    @Override
    public void validate() {
        LoraRules.checkBasics(r, loraDropout, bias);
        if (!useDora) {
            throw new ConfigException("use_dora", "must be true for method dora; use method: lora for plain LoRA");
        }
        if (loraBias) {
            throw new ConfigException("lora_bias", "is not supported together with DoRA (PEFT rule); set it to false");
        }
        LoraRules.checkLayoutAndPatterns(fanInFanOut, initLoraWeights, rankPattern, alphaPattern, layersToTransform,
                targetSpec());
    }
}
