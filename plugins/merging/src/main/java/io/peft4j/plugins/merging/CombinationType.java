package io.peft4j.plugins.merging;

import io.peft4j.api.ConfigException;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Set;

/**
 * PEFT's {@code combination_type} values. Each is a {@link Rule combining rule} applied either to the A and B factors
 * separately ({@code linear}, {@code ties}, ...), to the weight updates {@code ΔW_i} followed by an SVD
 * re-factorisation (the {@code *_svd} variants and plain {@code svd}), or concatenation ({@code cat}).
 */
enum CombinationType {
    LINEAR("linear", Rule.LINEAR, false),
    TIES("ties", Rule.TIES, false),
    DARE_LINEAR("dare_linear", Rule.DARE_LINEAR, false),
    DARE_TIES("dare_ties", Rule.DARE_TIES, false),
    MAGNITUDE_PRUNE("magnitude_prune", Rule.MAGNITUDE_PRUNE, false),
    CAT("cat", null, false),
    SVD("svd", Rule.LINEAR, true),
    TIES_SVD("ties_svd", Rule.TIES, true),
    DARE_LINEAR_SVD("dare_linear_svd", Rule.DARE_LINEAR, true),
    DARE_TIES_SVD("dare_ties_svd", Rule.DARE_TIES, true),
    MAGNITUDE_PRUNE_SVD("magnitude_prune_svd", Rule.MAGNITUDE_PRUNE, true);

    /** How a list of tensors is combined (spec section 9.2). */
    enum Rule {
        LINEAR, TIES, DARE_LINEAR, DARE_TIES, MAGNITUDE_PRUNE;

        boolean pruning() {
            return this != LINEAR;
        }

        boolean random() {
            return this == DARE_LINEAR || this == DARE_TIES;
        }
    }

    final String id;
    /** The combining rule; null for {@code cat}. */
    final Rule rule;
    /** True when the rule is applied to {@code ΔW_i} and the result re-factorised by SVD. */
    final boolean svd;

    CombinationType(String id, Rule rule, boolean svd) {
        this.id = id;
        this.rule = rule;
        this.svd = svd;
    }

    static Set<String> ids() {
        Set<String> s = new LinkedHashSet<>();
        Arrays.stream(values()).forEach(t -> s.add(t.id));
        return s;
    }

    static CombinationType parse(String id) {
        String v = id == null ? "" : id.toLowerCase(Locale.ROOT);
        for (CombinationType t : values()) {
            if (t.id.equals(v)) {
                return t;
            }
        }
        throw new ConfigException("combination_type", "unknown value \"" + id + "\"; expected one of " + ids());
    }

    /** True for types whose inputs must all have the same rank (the factors are added element-wise). */
    boolean needsEqualRanks() {
        return !svd && this != CAT;
    }
}
