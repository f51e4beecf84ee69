package io.peft4j.plugins.lora;

import io.peft4j.api.ConfigException;
import io.peft4j.api.TargetSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The rules of Hugging Face PEFT's {@code LoraConfig} keys that LoRA shares with its variants: per-module
 * rank/alpha patterns, scaling, {@code layers_to_transform}, and the checks every variant makes. Public because
 * the dora plugin (a PEFT {@code LoraConfig} with {@code use_dora: true}) uses it through its PF4J plugin
 * dependency on lora; method-specific checks stay in each config.
 */
public final class LoraRules {
    private LoraRules() {
    }

    /** {@code r > 0}, {@code lora_dropout} in [0, 1), {@code bias} one of none, all, lora_only. */
    public static void checkBasics(int r, double loraDropout, String bias) {
        if (r <= 0) {
            throw new ConfigException("r", "must be a positive integer, got " + r);
        }
        if (!(loraDropout >= 0.0 && loraDropout < 1.0)) {
            throw new ConfigException("lora_dropout", "must be in [0, 1), got " + loraDropout);
        }
        if (!List.of("none", "all", "lora_only").contains(bias)) {
            throw new ConfigException("bias", "expected one of none, all, lora_only; got \"" + bias + "\"");
        }
    }

    /**
     * {@code fan_in_fan_out} false, {@code init_lora_weights} a boolean or string, valid rank/alpha pattern keys
     * (ranks positive), a well-formed {@code layers_to_transform} and a compilable target regex.
     */
    public static void checkLayoutAndPatterns(boolean fanInFanOut, Object initLoraWeights,
            Map<String, Integer> rankPattern, Map<String, Double> alphaPattern, Object layersToTransform,
            TargetSpec spec) {
        if (fanInFanOut) {
            throw new ConfigException("fan_in_fan_out", "only applies to GPT-2 style Conv1D layers; must be false");
        }
        if (!(initLoraWeights instanceof Boolean) && !(initLoraWeights instanceof String)) {
            throw new ConfigException("init_lora_weights", "expected true, false or a string such as \"gaussian\", "
                    + "\"pissa\", \"pissa_niter_4\", \"milora\"; got " + initLoraWeights);
        }
        rankPattern.forEach((k, v) -> {
            checkPattern("rank_pattern", k);
            if (v == null || v <= 0) {
                throw new ConfigException("rank_pattern." + k, "rank must be a positive integer, got " + v);
            }
        });
        alphaPattern.keySet().forEach(k -> checkPattern("alpha_pattern", k));
        layerList(layersToTransform);
        if (spec.regex() != null) {
            checkPattern("target_modules", spec.regex());
        }
    }

    /** The {@code init_lora_weights} value as text: {@code "true"}, {@code "false"} or the string given. */
    public static String initName(Object initLoraWeights) {
        return String.valueOf(initLoraWeights).toLowerCase(Locale.ROOT);
    }

    /** Rank at a module: the first matching {@code rank_pattern} key (PEFT's get_pattern_key), else {@code r}. */
    public static int rankFor(Map<String, Integer> rankPattern, int r, String modulePath) {
        Integer v = firstMatch(rankPattern, modulePath);
        return v == null ? r : v;
    }

    /** Alpha at a module: the first matching {@code alpha_pattern} key, else {@code loraAlpha}. */
    public static double alphaFor(Map<String, Double> alphaPattern, double loraAlpha, String modulePath) {
        Double v = firstMatch(alphaPattern, modulePath);
        return v == null ? loraAlpha : v;
    }

    /** {@code alpha / r}, or {@code alpha / sqrt(r)} with rsLoRA. */
    public static float scaling(boolean useRslora, double alpha, int rank) {
        return (float) (useRslora ? alpha / Math.sqrt(rank) : alpha / rank);
    }

    /** {@code layers_to_transform} (an integer or a list of integers) as a list; null when not given. */
    public static List<Integer> layerList(Object layersToTransform) {
        return TargetSpec.layersFromPeft(layersToTransform);
    }

    private static <V> V firstMatch(Map<String, V> patterns, String key) {
        for (Map.Entry<String, V> e : patterns.entrySet()) {
            // PEFT: re.match(r"(.*\.)?(" + p + r")$", key)
            if (Pattern.compile("(.*\\.)?(" + e.getKey() + ")").matcher(key).matches()) {
                return e.getValue();
            }
        }
        return null;
    }

    private static void checkPattern(String field, String p) {
        try {
            Pattern.compile(p);
        } catch (PatternSyntaxException e) {
            throw new ConfigException(field, "invalid regular expression \"" + p + "\": " + e.getDescription());
        }
    }
}
