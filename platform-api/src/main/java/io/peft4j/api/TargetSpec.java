package io.peft4j.api;

import java.util.List;

/**
 * Which modules an adapter applies to, with Hugging Face PEFT's matching rules (implemented once, in core).
 *
 * <ul>
 *   <li>{@code names}: match when the module path equals a name or ends with {@code "." + name};</li>
 *   <li>{@code regex}: match when the whole path matches ({@code re.fullmatch});</li>
 *   <li>{@code allLinear}: every linear layer except the output head ({@code lm_head});</li>
 *   <li>excludes win over targets; {@code layers} (with optional {@code layersPattern}) keep only those layer indices.</li>
 * </ul>
 * Exactly one of {@code names}, {@code regex}, {@code allLinear} selects the targets.
 */
public record TargetSpec(List<String> names, String regex, boolean allLinear,
                         List<String> excludeNames, String excludeRegex,
                         List<Integer> layers, String layersPattern) {

    public static final String ALL_LINEAR = "all-linear";

    /**
     * Hugging Face PEFT's {@code TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING} for the architectures the
     * platform loads ({@code q_proj, v_proj} for {@code llama}, {@code mistral}, {@code qwen2}); empty for any other
     * {@code model_type}. PEFT's AdaLoRA and VeRA mappings are copies of it, so LoRA-family methods return this from
     * {@link Adapter#defaultTargets}.
     */
    public static List<String> loraFamilyDefaults(String architecture) {
        return switch (architecture == null ? "" : architecture) {
            case "llama", "mistral", "qwen2" -> List.of("q_proj", "v_proj");
            default -> List.of();
        };
    }

    public TargetSpec {
        names = names == null ? null : List.copyOf(names);
        excludeNames = excludeNames == null ? null : List.copyOf(excludeNames);
        layers = layers == null ? null : List.copyOf(layers);
    }

    /**
     * Builds a spec from PEFT's JSON fields: {@code target_modules} and {@code exclude_modules} are each either a
     * list of names or a single regex string; the string {@code "all-linear"} selects all linear layers.
     */
    public static TargetSpec fromPeft(Object targetModules, Object excludeModules, List<Integer> layersToTransform,
                                      String layersPattern) {
        List<String> names = null;
        String regex = null;
        boolean all = false;
        if (targetModules instanceof String s) {
            if (ALL_LINEAR.equalsIgnoreCase(s)) {
                all = true;
            } else {
                regex = s;
            }
        } else if (targetModules instanceof List<?> l) {
            names = l.stream().map(String::valueOf).toList();
        } else if (targetModules != null) {
            throw new IllegalArgumentException("target_modules: expected a list of module names, a regex string or \""
                    + ALL_LINEAR + "\", got " + targetModules.getClass().getSimpleName());
        }
        List<String> exNames = null;
        String exRegex = null;
        if (excludeModules instanceof String s) {
            exRegex = s;
        } else if (excludeModules instanceof List<?> l) {
            exNames = l.stream().map(String::valueOf).toList();
        } else if (excludeModules != null) {
            throw new IllegalArgumentException("exclude_modules: expected a list of module names or a regex string, got "
                    + excludeModules.getClass().getSimpleName());
        }
        return new TargetSpec(names, regex, all, exNames, exRegex, layersToTransform, layersPattern);
    }

    /**
     * PEFT's {@code layers_to_transform} (an integer or a list of integers) as a list; null when not given.
     *
     * @throws ConfigException naming {@code layers_to_transform} for any other value
     */
    public static List<Integer> layersFromPeft(Object layersToTransform) {
        if (layersToTransform == null) {
            return null;
        }
        if (layersToTransform instanceof Number n) {
            return List.of(n.intValue());
        }
        if (layersToTransform instanceof List<?> l) {
            List<Integer> out = new java.util.ArrayList<>();
            for (Object o : l) {
                if (!(o instanceof Number n)) {
                    throw new ConfigException("layers_to_transform", "expected integers, got " + o);
                }
                out.add(n.intValue());
            }
            return List.copyOf(out);
        }
        throw new ConfigException("layers_to_transform", "expected an integer or a list of integers, got "
                + layersToTransform);
    }

    /** True when no target was given at all (the method must then supply its own default targets). */
    public boolean isEmpty() {
        return names == null && regex == null && !allLinear;
    }

    /** The value to write back as {@code target_modules}. */
    public Object toPeftTargetModules() {
        if (allLinear) {
            return ALL_LINEAR;
        }
        return regex != null ? regex : names;
    }

    /** The value to write back as {@code exclude_modules}. */
    public Object toPeftExcludeModules() {
        return excludeRegex != null ? excludeRegex : excludeNames;
    }
}
