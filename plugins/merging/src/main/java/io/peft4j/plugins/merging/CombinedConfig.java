package io.peft4j.plugins.merging;

import io.peft4j.api.ConfigException;
import io.peft4j.api.LowRankConfig;
import io.peft4j.api.LowRankSettings;
import io.peft4j.api.TargetSpec;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The configuration of a combined adapter, as PEFT's {@code add_weighted_adapter} builds it (spec 9.1, 9.6): a copy
 * of the first input's config with
 * <pre>
 *   r = lora_alpha = new rank      (scaling 1: the combined factors carry every input's scaling)
 *   use_rslora = false, rank_pattern = alpha_pattern = {}
 *   init_lora_weights = false      (the factors are overwritten by the combination)
 *   target_modules = union of the inputs' lists, or the alternation (p1)|(p2)|... of their regexes
 * </pre>
 */
final class CombinedConfig {

    private CombinedConfig() {
    }

    static LowRankConfig of(List<LowRankConfig> inputs, int rank) {
        if (inputs.isEmpty()) {
            throw new ConfigException("adapters", "at least one adapter is needed to combine");
        }
        return inputs.get(0).withLowRank(LowRankSettings.of(rank, rank, "false"))
                .withTargetModules(targets(inputs));
    }

    /** Union of the target lists, or the alternation of the target regexes; mixing the two is an error. */
    static Object targets(List<LowRankConfig> inputs) {
        List<Object> targets = inputs.stream().map(c -> c.targetSpec().toPeftTargetModules()).toList();
        if (targets.stream().allMatch(t -> t instanceof List<?>)) {
            Set<String> union = new LinkedHashSet<>();
            targets.forEach(t -> ((List<?>) t).forEach(x -> union.add(String.valueOf(x))));
            return new ArrayList<>(union);
        }
        if (targets.stream().allMatch(t -> t instanceof String)) {
            Set<String> distinct = new LinkedHashSet<>();
            targets.forEach(t -> distinct.add((String) t));
            if (distinct.size() == 1) {
                return distinct.iterator().next();
            }
            if (distinct.contains(TargetSpec.ALL_LINEAR)) {
                throw new ConfigException("target_modules", "cannot combine \"all-linear\" with other regexes "
                        + distinct);
            }
            return String.join("|", distinct.stream().map(p -> "(" + p + ")").toList());
        }
        throw new ConfigException("target_modules", "the adapters mix target lists and regexes " + targets
                + "; PEFT combines only all-list or all-regex targets");
    }
}
