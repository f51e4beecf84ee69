package io.peft4j.plugins.adalora;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import io.peft4j.api.AdapterConfig;
import io.peft4j.api.ConfigException;
import io.peft4j.api.TargetSpec;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * AdaLoRA hyper-parameters. Field names are exactly the keys of Hugging Face PEFT's {@code AdaLoraConfig}
 * ({@code adapter_config.json}, {@code peft_type "ADALORA"}); defaults are PEFT's.
 *
 * @param initR             initial rank of every adapted matrix (default 12)
 * @param targetR           target <em>average</em> rank after pruning (default 8); {@code target_r <= init_r}
 * @param tinit             warm-up steps without pruning (default 0)
 * @param tfinal            final steps with a frozen rank pattern (default 0)
 * @param deltaT            interval, in steps, between budget re-allocations (default 1)
 * @param beta1             EMA factor of the sensitivity, in (0, 1) (default 0.85)
 * @param beta2             EMA factor of the uncertainty, in (0, 1) (default 0.85)
 * @param orthRegWeight     weight of the orthogonal regulariser, {@code >= 0} (default 0.5; 0 turns it off)
 * @param totalStep         the number of training steps the budget schedule spans; required, {@code > 0}, and
 *                          {@code tinit < total_step - tfinal}
 * @param rankPattern       written during/after training: {@code "<module path>.lora_E"} to {@code init_r}
 *                          booleans (true = triplet kept). Adapters loaded with a pattern are built with the kept
 *                          rank per module (the scale still uses {@code init_r})
 * @param loraAlpha         the scale numerator (default 8): {@code scaling = lora_alpha} (not {@code alpha/r}), or
 *                          {@code r} when {@code lora_alpha <= 0}
 * @param loraDropout       dropout on the adapter branch input (default 0)
 * @param targetModules     list of names (exact or {@code .}-suffix), one regex (full match), or {@code "all-linear"}
 * @param excludeModules    same forms; wins over targets
 * @param initLoraWeights   {@code true} (E = 0, A and B ~ N(0, 0.02²)) or {@code false} (all ~ N(0, 1), debug only)
 * @param layersToTransform keep only these decoder layer indices (int or list)
 * @param layersPattern     the path component that precedes the layer index
 * @param bias              {@code none | all | lora_only}; the platform accepts all / lora_only only where they
 *                          select no bias (peft4j does not train base biases)
 * @param useDora           must be false: PEFT rejects DoRA for AdaLoRA
 * @param fanInFanOut       GPT-2 Conv1D layout; must be false
 * @param modulesToSave     not supported: refused by the platform
 * @param taskType          informational, e.g. {@code CAUSAL_LM}
 * @param baseModelNameOrPath informational
 */
public record AdaLoraConfig(
        @JsonProperty("init_r") Integer initR,
        @JsonProperty("target_r") Integer targetR,
        @JsonProperty("tinit") Integer tinit,
        @JsonProperty("tfinal") Integer tfinal,
        @JsonProperty("deltaT") Integer deltaT,
        @JsonProperty("beta1") Double beta1,
        @JsonProperty("beta2") Double beta2,
        @JsonProperty("orth_reg_weight") Double orthRegWeight,
        @JsonProperty("total_step") Integer totalStep,
        @JsonProperty("rank_pattern") Map<String, List<Boolean>> rankPattern,
        @JsonProperty("lora_alpha") Double loraAlpha,
        @JsonProperty("lora_dropout") Double loraDropout,
        @JsonProperty("target_modules") Object targetModules,
        @JsonProperty("exclude_modules") Object excludeModules,
        @JsonProperty("init_lora_weights") Object initLoraWeights,
        @JsonProperty("layers_to_transform") Object layersToTransform,
        @JsonProperty("layers_pattern") String layersPattern,
        @JsonProperty("bias") String bias,
        @JsonProperty("use_dora") Boolean useDora,
        @JsonProperty("fan_in_fan_out") Boolean fanInFanOut,
        @JsonProperty("modules_to_save") List<String> modulesToSave,
        @JsonProperty("task_type") String taskType,
        @JsonProperty("base_model_name_or_path") String baseModelNameOrPath) implements AdapterConfig {

    /** Suffix of {@code rank_pattern} keys: the parameter name of {@code lora_E} without the adapter name. */
    public static final String PATTERN_SUFFIX = ".lora_E";

    public AdaLoraConfig {
        initR = initR == null ? 12 : initR;
        targetR = targetR == null ? 8 : targetR;
        tinit = tinit == null ? 0 : tinit;
        tfinal = tfinal == null ? 0 : tfinal;
        deltaT = deltaT == null ? 1 : deltaT;
        beta1 = beta1 == null ? 0.85 : beta1;
        beta2 = beta2 == null ? 0.85 : beta2;
        orthRegWeight = orthRegWeight == null ? 0.5 : orthRegWeight;
        // PEFT writes {} or null for "no pattern yet"; both mean the same here.
        rankPattern = rankPattern == null || rankPattern.isEmpty() ? null : copyPattern(rankPattern);
        loraAlpha = loraAlpha == null ? 8.0 : loraAlpha;
        loraDropout = loraDropout == null ? 0.0 : loraDropout;
        initLoraWeights = initLoraWeights == null ? Boolean.TRUE : initLoraWeights;
        bias = bias == null ? "none" : bias;
        useDora = useDora != null && useDora;
        fanInFanOut = fanInFanOut != null && fanInFanOut;
        modulesToSave = modulesToSave == null ? List.of() : List.copyOf(modulesToSave);
    }

    /** A config with PEFT defaults and the given ranks, schedule length and targets. */
    public static AdaLoraConfig of(int initR, int targetR, int totalStep, Object targetModules) {
        return new AdaLoraConfig(initR, targetR, null, null, null, null, null, null, totalStep, null, null, null,
                targetModules, null, null, null, null, null, null, null, null, null, null);
    }

    /** This config with another rank pattern (null or empty: none). */
    public AdaLoraConfig withRankPattern(Map<String, List<Boolean>> pattern) {
        return new AdaLoraConfig(initR, targetR, tinit, tfinal, deltaT, beta1, beta2, orthRegWeight, totalStep,
                pattern, loraAlpha, loraDropout, targetModules, excludeModules, initLoraWeights, layersToTransform,
                layersPattern, bias, useDora, fanInFanOut, modulesToSave, taskType, baseModelNameOrPath);
    }

    @Override
    @JsonIgnore
    public TargetSpec targetSpec() {
        return TargetSpec.fromPeft(targetModules, excludeModules, layerList(), layersPattern);
    }

    @Override
    public List<String> modulesToSave() {
        return modulesToSave;
    }

    /**
     * Checks PEFT's rules ({@code AdaLoraConfig.__post_init__}) plus the ranges the method needs: ranks positive and
     * {@code target_r <= init_r}; {@code total_step} given and {@code > 0}; {@code tinit < total_step - tfinal} (else
     * there is no budgeting phase); betas in (0, 1); {@code orth_reg_weight >= 0}; {@code deltaT >= 1}.
     */
    @Override
    public void validate() {
        if (initR <= 0) {
            throw new ConfigException("init_r", "must be a positive integer, got " + initR);
        }
        if (targetR <= 0) {
            throw new ConfigException("target_r", "must be a positive integer, got " + targetR);
        }
        if (targetR > initR) {
            throw new ConfigException("target_r", "the target average rank " + targetR
                    + " is larger than init_r = " + initR + "; AdaLoRA only prunes ranks (expected target_r <= init_r)");
        }
        if (totalStep == null) {
            throw new ConfigException("total_step", "is required for AdaLoRA: the number of training steps the rank "
                    + "budget schedule spans (usually the run's training.steps)");
        }
        if (totalStep <= 0) {
            throw new ConfigException("total_step", "must be > 0, got " + totalStep);
        }
        if (tinit < 0) {
            throw new ConfigException("tinit", "must be >= 0, got " + tinit);
        }
        if (tfinal < 0) {
            throw new ConfigException("tfinal", "must be >= 0, got " + tfinal);
        }
        if (tinit >= totalStep - tfinal) {
            throw new ConfigException("tinit", "tinit (" + tinit + ") + tfinal (" + tfinal + ") leave no budgeting "
                    + "phase within total_step (" + totalStep + "); expected tinit < total_step - tfinal");
        }
        if (deltaT <= 0) {
            throw new ConfigException("deltaT", "must be a positive integer, got " + deltaT);
        }
        checkBeta("beta1", beta1);
        checkBeta("beta2", beta2);
        if (!(orthRegWeight >= 0)) {
            throw new ConfigException("orth_reg_weight", "must be >= 0, got " + orthRegWeight);
        }
        if (!(loraDropout >= 0.0 && loraDropout < 1.0)) {
            throw new ConfigException("lora_dropout", "must be in [0, 1), got " + loraDropout);
        }
        if (!(initLoraWeights instanceof Boolean)) {
            throw new ConfigException("init_lora_weights", "AdaLoRA supports true (E = 0, A, B ~ N(0, 0.02^2)) or "
                    + "false; got " + initLoraWeights);
        }
        if (useDora) {
            throw new ConfigException("use_dora", "AdaLoRA does not support DoRA (PEFT rule)");
        }
        if (fanInFanOut) {
            throw new ConfigException("fan_in_fan_out", "only applies to GPT-2 style Conv1D layers; must be false");
        }
        // all / lora_only and modules_to_save are refused by the platform wherever they would train base tensors.
        if (!List.of("none", "all", "lora_only").contains(bias)) {
            throw new ConfigException("bias", "expected one of none, all, lora_only; got \"" + bias + "\"");
        }
        if (rankPattern != null) {
            rankPattern.forEach((k, v) -> {
                if (!k.endsWith(PATTERN_SUFFIX)) {
                    throw new ConfigException("rank_pattern." + k, "keys are lora_E parameter names such as "
                            + "\"model.layers.0.self_attn.q_proj.lora_E\"");
                }
                if (v == null || v.size() != initR || v.contains(null)) {
                    throw new ConfigException("rank_pattern." + k, "expected a list of init_r = " + initR
                            + " booleans, got " + v);
                }
            });
        }
        layerList();
        TargetSpec spec = targetSpec();
        if (spec.regex() != null) {
            try {
                Pattern.compile(spec.regex());
            } catch (java.util.regex.PatternSyntaxException e) {
                throw new ConfigException("target_modules", "invalid regular expression \"" + spec.regex() + "\": "
                        + e.getDescription());
            }
        }
    }

    /** The rank pattern entry of a module, or null when the module has none. */
    public List<Boolean> patternFor(String modulePath) {
        return rankPattern == null ? null : rankPattern.get(modulePath + PATTERN_SUFFIX);
    }

    /**
     * {@code scaling = lora_alpha} if {@code lora_alpha > 0}, else the layer's rank (PEFT's
     * {@code SVDLinear.update_layer}, which receives the resized rank when a rank pattern is loaded).
     */
    public float scaling(int layerRank) {
        return (float) (loraAlpha > 0 ? loraAlpha : layerRank);
    }

    private static void checkBeta(String field, double b) {
        if (!(b > 0 && b < 1)) {
            throw new ConfigException(field, "must be in (0, 1), got " + b);
        }
    }

    private static Map<String, List<Boolean>> copyPattern(Map<String, List<Boolean>> p) {
        Map<String, List<Boolean>> out = new LinkedHashMap<>();
        p.forEach((k, v) -> out.put(k, v == null ? null : java.util.Collections.unmodifiableList(new ArrayList<>(v))));
        return java.util.Collections.unmodifiableMap(out);
    }

    private List<Integer> layerList() {
        return TargetSpec.layersFromPeft(layersToTransform);
    }
}
