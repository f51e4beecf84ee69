package io.peft4j.api;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The low-rank part of a LoRA-family configuration ({@link LowRankConfig}): what the platform reads and rewrites when
 * it converts (PiSSA to LoRA) or combines (weighted adapters) such adapters, without knowing the method's record.
 * The scaling at a module is {@code alpha / r} ({@code alpha / sqrt(r)} with rsLoRA), with {@code r} and
 * {@code alpha} overridden per module by the patterns.
 *
 * @param r           PEFT's {@code r}
 * @param alpha       PEFT's {@code lora_alpha}
 * @param useRslora   PEFT's {@code use_rslora}
 * @param rankPattern PEFT's {@code rank_pattern} (module-key pattern to rank), in order
 * @param alphaPattern PEFT's {@code alpha_pattern} (module-key pattern to alpha), in order
 * @param initializer PEFT's {@code init_lora_weights} as text: {@code "true"}, {@code "false"}, {@code "gaussian"} or
 *                    the name an installed {@link Initializer} {@link Initializer#handles handles} (e.g.
 *                    {@code pissa_niter_4}, LoftQ's {@code loftq_iter_N})
 */
public record LowRankSettings(int r, double alpha, boolean useRslora, Map<String, Integer> rankPattern,
                              Map<String, Double> alphaPattern, String initializer) {

    public LowRankSettings {
        rankPattern = rankPattern == null ? Map.of() : java.util.Collections.unmodifiableMap(
                new LinkedHashMap<>(rankPattern));
        alphaPattern = alphaPattern == null ? Map.of() : java.util.Collections.unmodifiableMap(
                new LinkedHashMap<>(alphaPattern));
        initializer = initializer == null ? "true" : initializer;
    }

    /** Rank {@code r}, alpha {@code alpha}, no rsLoRA, no patterns, the given initializer. */
    public static LowRankSettings of(int r, double alpha, String initializer) {
        return new LowRankSettings(r, alpha, false, Map.of(), Map.of(), initializer);
    }
}
