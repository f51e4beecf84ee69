package io.peft4j.plugins.vera;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import io.peft4j.api.AdapterConfig;
import io.peft4j.api.ConfigException;
import io.peft4j.api.TargetSpec;
import java.util.ArrayList;
import java.util.List;

/**
 * VeRA hyper-parameters. Field names are exactly the keys of Hugging Face PEFT's {@code VeraConfig}
 * ({@code adapter_config.json}, {@code peft_type "VERA"}); defaults are PEFT's.
 *
 * @param r                  rank of the shared random projections (default 256)
 * @param targetModules      list of names (exact or {@code .}-suffix), one regex (full match), or {@code "all-linear"}
 * @param projectionPrngKey  seed of the torch CPU generator that draws {@code vera_A} then {@code vera_B} (default 0)
 * @param saveProjection     whether the shared projections are saved with the adapter (default true); when false they
 *                           are regenerated bit-exactly from the key on load
 * @param veraDropout        dropout on the adapter input (default 0)
 * @param dInitial           initial value of every {@code lambda_d} entry (default 0.1)
 * @param fanInFanOut        GPT-2 Conv1D layout; not applicable to Llama, must be false
 * @param bias               {@code none | all | vera_only}: PEFT trains and saves those base biases; accepted only
 *                           where they select no bias (BaseTrainingOptions)
 * @param modulesToSave      extra modules PEFT trains fully; not supported, rejected by the platform
 * @param initWeights        true: {@code lambda_b = 0}, {@code lambda_d = d_initial}; false: {@code lambda_b = 1},
 *                           {@code lambda_d ~ N(0, 1)} (debugging)
 * @param layersToTransform  keep only these decoder layer indices (int or list)
 * @param layersPattern      the path component that precedes the layer index (e.g. {@code layers})
 * @param taskType           informational, e.g. {@code CAUSAL_LM}
 * @param baseModelNameOrPath informational
 */
public record VeraConfig(
        @JsonProperty("r") Integer r,
        @JsonProperty("target_modules") Object targetModules,
        @JsonProperty("projection_prng_key") Long projectionPrngKey,
        @JsonProperty("save_projection") Boolean saveProjection,
        @JsonProperty("vera_dropout") Double veraDropout,
        @JsonProperty("d_initial") Double dInitial,
        @JsonProperty("fan_in_fan_out") Boolean fanInFanOut,
        @JsonProperty("bias") String bias,
        @JsonProperty("modules_to_save") List<String> modulesToSave,
        @JsonProperty("init_weights") Boolean initWeights,
        @JsonProperty("layers_to_transform") Object layersToTransform,
        @JsonProperty("layers_pattern") String layersPattern,
        @JsonProperty("task_type") String taskType,
        @JsonProperty("base_model_name_or_path") String baseModelNameOrPath) implements AdapterConfig {

    public VeraConfig {
        r = r == null ? 256 : r;
        projectionPrngKey = projectionPrngKey == null ? 0L : projectionPrngKey;
        saveProjection = saveProjection == null || saveProjection;
        veraDropout = veraDropout == null ? 0.0 : veraDropout;
        dInitial = dInitial == null ? 0.1 : dInitial;
        fanInFanOut = fanInFanOut != null && fanInFanOut;
        bias = bias == null ? "none" : bias;
        modulesToSave = modulesToSave == null ? List.of() : List.copyOf(modulesToSave);
        initWeights = initWeights == null || initWeights;
    }

    /** A config with PEFT defaults and the given rank and targets. */
    public static VeraConfig of(int r, Object targetModules) {
        return new VeraConfig(r, targetModules, null, null, null, null, null, null, null, null, null, null, null,
                null);
    }

    @Override
    @JsonIgnore
    public TargetSpec targetSpec() {
        return TargetSpec.fromPeft(targetModules, null, layerList(), layersPattern);
    }

    @Override
    public void validate() {
        if (r <= 0) {
            throw new ConfigException("r", "must be a positive integer, got " + r);
        }
        if (!(veraDropout >= 0.0 && veraDropout < 1.0)) {
            throw new ConfigException("vera_dropout", "must be in [0, 1), got " + veraDropout);
        }
        if (!Double.isFinite(dInitial)) {
            throw new ConfigException("d_initial", "must be a finite number, got " + dInitial);
        }
        if (!List.of("none", "all", "vera_only").contains(bias)) {
            throw new ConfigException("bias", "expected one of none, all, vera_only; got \"" + bias + "\"");
        }
        if (fanInFanOut) {
            throw new ConfigException("fan_in_fan_out", "only applies to GPT-2 style Conv1D layers; must be false");
        }
        if (projectionPrngKey < 0) {
            throw new ConfigException("projection_prng_key", "must be a non-negative integer seed, got "
                    + projectionPrngKey);
        }
        layerList();
        TargetSpec spec = targetSpec();
        if (spec.regex() != null) {
            try {
                java.util.regex.Pattern.compile(spec.regex());
            } catch (java.util.regex.PatternSyntaxException e) {
                throw new ConfigException("target_modules", "invalid regular expression \"" + spec.regex() + "\": "
                        + e.getDescription());
            }
        }
    }

    private List<Integer> layerList() {
        return TargetSpec.layersFromPeft(layersToTransform);
    }
}
