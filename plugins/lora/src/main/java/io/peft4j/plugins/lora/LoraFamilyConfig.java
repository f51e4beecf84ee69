package io.peft4j.plugins.lora;

import com.fasterxml.jackson.annotation.JsonIgnore;
import io.peft4j.api.LowRankConfig;
import io.peft4j.api.LowRankSettings;
import io.peft4j.api.TargetSpec;
import java.util.Map;

/**
 * What the LoRA-family config records (LoRA's {@link LoraConfig}, DoRA's) share: PEFT's {@code LoraConfig} fields they
 * both carry (as record components) and the rules derived from them, written once here. Per module {@code m}:
 * <pre>
 *   r_m     = the first matching rank_pattern key's value, else r          (PEFT's get_pattern_key)
 *   alpha_m = the first matching alpha_pattern key's value, else lora_alpha
 *   s_m     = alpha_m / r_m, or alpha_m / sqrt(r_m) with use_rslora
 * </pre>
 */
public interface LoraFamilyConfig extends LowRankConfig {

    Integer r();

    Double loraAlpha();

    Double loraDropout();

    Boolean useRslora();

    Object targetModules();

    Object excludeModules();

    Object initLoraWeights();

    Map<String, Integer> rankPattern();

    Map<String, Double> alphaPattern();

    Object layersToTransform();

    String layersPattern();

    @Override
    @JsonIgnore
    default TargetSpec targetSpec() {
        return TargetSpec.fromPeft(targetModules(), excludeModules(), LoraRules.layerList(layersToTransform()),
                layersPattern());
    }

    /** The {@code init_lora_weights} value as text: {@code "true"}, {@code "false"} or the string given. */
    default String initName() {
        return LoraRules.initName(initLoraWeights());
    }

    @Override
    @JsonIgnore
    default LowRankSettings lowRank() {
        return new LowRankSettings(r(), loraAlpha(), useRslora(), rankPattern(), alphaPattern(), initName());
    }

    /** Rank at a module: the first matching {@code rank_pattern} key (PEFT's get_pattern_key), else {@code r}. */
    default int rankFor(String modulePath) {
        return LoraRules.rankFor(rankPattern(), r(), modulePath);
    }

    /** Alpha at a module: the first matching {@code alpha_pattern} key, else {@code lora_alpha}. */
    default double alphaFor(String modulePath) {
        return LoraRules.alphaFor(alphaPattern(), loraAlpha(), modulePath);
    }

    /** {@code alpha / r}, or {@code alpha / sqrt(r)} with rsLoRA. */
    default float scalingFor(String modulePath) {
        return LoraRules.scaling(useRslora(), alphaFor(modulePath), rankFor(modulePath));
    }

    /** {@code init_lora_weights} from its text: {@code true} / {@code false} as booleans (PEFT's JSON), else the name. */
    static Object initValue(String initializer) {
        return switch (initializer) {
            case "true" -> Boolean.TRUE;
            case "false" -> Boolean.FALSE;
            default -> initializer;
        };
    }
}
