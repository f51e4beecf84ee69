package io.peft4j.plugins.lora;

import com.fasterxml.jackson.annotation.JsonProperty;
import io.peft4j.api.ConfigException;
import io.peft4j.api.LowRankSettings;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * LoRA hyper-parameters. Field names are exactly the keys of Hugging Face PEFT's {@code LoraConfig}
 * ({@code adapter_config.json}); defaults are PEFT's.
 *
 * @param r                 rank (default 8)
 * @param loraAlpha         alpha (default 8); scaling {@code s = alpha / r}, or {@code alpha / sqrt(r)} with rsLoRA
 * @param loraDropout       dropout on the LoRA branch input (default 0)
 * @param useRslora         rank-stabilised scaling
 * @param bias              {@code none | all | lora_only}: PEFT trains and saves those base biases; peft4j does not,
 *                          so the platform accepts all / lora_only only where they select no bias (BaseTrainingOptions)
 * @param loraBias          gives {@code lora_B} its own bias (scaled by {@code s} like the rest of the branch)
 * @param targetModules     list of names (exact or {@code .}-suffix), one regex (full match), or {@code "all-linear"}
 * @param excludeModules    same forms; wins over targets
 * @param initLoraWeights   {@code true} (A kaiming-uniform, B = 0), {@code false} (both random: debugging only),
 *                          {@code "gaussian"} (A ~ N(0, 1/r), B = 0), or the id of an installed initializer
 *                          ({@code "pissa"}, {@code "pissa_niter_<N>"}, {@code "milora"})
 * @param rankPattern       module-key pattern to rank override
 * @param alphaPattern      module-key pattern to alpha override
 * @param useDora           must be false here: DoRA is its own plugin
 * @param layersToTransform keep only these decoder layer indices (int or list)
 * @param layersPattern     the path component that precedes the layer index (e.g. {@code layers})
 * @param modulesToSave     extra modules PEFT trains fully; not supported, rejected by the platform
 * @param fanInFanOut       GPT-2 Conv1D layout; not applicable to Llama, must be false
 * @param loftqConfig       PEFT's {@code loftq_config}: {@code {loftq_bits, loftq_iter}} with {@code init_lora_weights:
 *                          "loftq"} ({@code {}} otherwise). The spelling {@code "loftq_iter_N"} is accepted and stored
 *                          as {@code "loftq"} with {@code loftq_iter: N}, so saved configs are PEFT's
 * @param taskType          informational, e.g. {@code CAUSAL_LM}
 * @param baseModelNameOrPath informational
 */
public record LoraConfig(
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
        @JsonProperty("loftq_config") Map<String, Object> loftqConfig,
        @JsonProperty("task_type") String taskType,
        @JsonProperty("base_model_name_or_path") String baseModelNameOrPath) implements LoraFamilyConfig {

    public LoraConfig {
        r = r == null ? 8 : r;
        loraAlpha = loraAlpha == null ? 8.0 : loraAlpha;
        loraDropout = loraDropout == null ? 0.0 : loraDropout;
        useRslora = useRslora != null && useRslora;
        bias = bias == null ? "none" : bias;
        loraBias = loraBias != null && loraBias;
        initLoraWeights = initLoraWeights == null ? Boolean.TRUE : initLoraWeights;
        rankPattern = rankPattern == null ? Map.of() : new LinkedHashMap<>(rankPattern);
        alphaPattern = alphaPattern == null ? Map.of() : new LinkedHashMap<>(alphaPattern);
        useDora = useDora != null && useDora;
        fanInFanOut = fanInFanOut != null && fanInFanOut;
        modulesToSave = modulesToSave == null ? List.of() : List.copyOf(modulesToSave);
        loftqConfig = loftqConfig == null ? Map.of() : new LinkedHashMap<>(loftqConfig);
        String init = LoraRules.initName(initLoraWeights);
        if (init.startsWith(LOFTQ_ITER_PREFIX) && init.substring(LOFTQ_ITER_PREFIX.length()).matches("\\d{1,9}")) {
            loftqConfig = new LinkedHashMap<>(Map.of("loftq_bits", 4,
                    "loftq_iter", Integer.parseInt(init.substring(LOFTQ_ITER_PREFIX.length()))));
            initLoraWeights = LOFTQ;
        } else if (LOFTQ.equals(init) && loftqConfig.isEmpty()) {
            loftqConfig = new LinkedHashMap<>(Map.of("loftq_bits", 4, "loftq_iter", 1));
        }
    }

    static final String LOFTQ = "loftq";
    static final String LOFTQ_ITER_PREFIX = "loftq_iter_";

    /** A config with PEFT defaults and the given rank, alpha and targets. */
    public static LoraConfig of(int r, double alpha, Object targetModules) {
        return new LoraConfig(r, alpha, null, null, null, null, targetModules, null, null, null, null, null, null,
                null, null, null, null, null, null);
    }

    /**
     * A copy with the given rank, alpha, rsLoRA flag, patterns and {@code init_lora_weights} (LoftQ's
     * {@code loftq_iter_N} spelling becomes {@code loftq} with {@code loftq_config}, as when parsed; any other
     * initializer drops the {@code loftq_config}).
     */
    @Override
    public LoraConfig withLowRank(LowRankSettings s) {
        return new LoraConfig(s.r(), s.alpha(), loraDropout, s.useRslora(), bias, loraBias, targetModules,
                excludeModules, LoraFamilyConfig.initValue(s.initializer()), s.rankPattern(), s.alphaPattern(),
                useDora, layersToTransform, layersPattern, modulesToSave, fanInFanOut,
                s.initializer().startsWith(LOFTQ) ? loftqConfig : null, taskType, baseModelNameOrPath);
    }

    @Override
    public LoraConfig withTargetModules(Object targets) {
        return new LoraConfig(r, loraAlpha, loraDropout, useRslora, bias, loraBias, targets, excludeModules,
                initLoraWeights, rankPattern, alphaPattern, useDora, layersToTransform, layersPattern, modulesToSave,
                fanInFanOut, loftqConfig, taskType, baseModelNameOrPath);
    }

    @Override
    public void validate() {
        LoraRules.checkBasics(r, loraDropout, bias);
        if (useDora) {
            throw new ConfigException("use_dora", "DoRA is provided by the 'dora' plugin: use method: dora");
        }
        LoraRules.checkLayoutAndPatterns(fanInFanOut, initLoraWeights, rankPattern, alphaPattern, layersToTransform,
                targetSpec());
        if (!loftqConfig.isEmpty()) {
            if (!LOFTQ.equals(LoraRules.initName(initLoraWeights))) {
                throw new ConfigException("loftq_config", "is only used with init_lora_weights: \"loftq\", not with \""
                        + initLoraWeights + "\"");
            }
            Object bits = loftqConfig.getOrDefault("loftq_bits", 4);
            Object iter = loftqConfig.getOrDefault("loftq_iter", 1);
            if (!(bits instanceof Number b) || b.intValue() != 4) {
                throw new ConfigException("loftq_config.loftq_bits", "only 4 is supported (the run's quantizer, e.g. "
                        + "nf4, decides the format), got " + bits);
            }
            if (!(iter instanceof Number n) || n.intValue() < 1) {
                throw new ConfigException("loftq_config.loftq_iter", "expected an integer >= 1, got " + iter);
            }
        }
        if (loraBias && !(initLoraWeights instanceof Boolean)) {
            throw new ConfigException("lora_bias", "is only allowed with init_lora_weights true or false (PEFT rule), "
                    + "not with \"" + initLoraWeights + "\"");
        }
    }

    /**
     * The {@code init_lora_weights} value as text: {@code "true"}, {@code "false"} or the string given; for LoftQ the
     * initializer's spelling of {@code loftq_config.loftq_iter} ({@code "loftq_iter_N"}, or {@code "loftq"} for 1).
     */
    @Override
    public String initName() {
        String init = LoraRules.initName(initLoraWeights);
        Object iter = loftqConfig.get("loftq_iter");
        if (LOFTQ.equals(init) && iter instanceof Number n && n.intValue() != 1) {
            return LOFTQ_ITER_PREFIX + n.intValue();
        }
        return init;
    }
}
