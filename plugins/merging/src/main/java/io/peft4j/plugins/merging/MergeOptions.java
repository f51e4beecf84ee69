package io.peft4j.plugins.merging;

import com.fasterxml.jackson.annotation.JsonProperty;
import io.peft4j.api.ConfigException;
import io.peft4j.api.ExtensionOptions;
import java.util.List;
import java.util.Locale;

/**
 * The options of one {@code add_weighted_adapter} call (PEFT's argument names).
 *
 * @param density            fraction of entries kept by pruning types, in (0, 1]; 1 disables pruning (PEFT warns and
 *                           returns the tensor unchanged). Required for {@code ties}, {@code dare_*},
 *                           {@code magnitude_prune} and their svd variants ({@link #check})
 * @param majoritySignMethod {@code total} (default) or {@code frequency} (TIES sign election)
 * @param svdRank            rank of the svd family's result, {@code >= 1} (default: the largest input rank)
 * @param svdClamp           quantile in [0, 1] at which the svd factors are clamped (default: none)
 */
public record MergeOptions(@JsonProperty("density") Double density,
                           @JsonProperty("majority_sign_method") String majoritySignMethod,
                           @JsonProperty("svd_rank") Integer svdRank,
                           @JsonProperty("svd_clamp") Double svdClamp) implements ExtensionOptions {
    private static final List<String> SIGN_METHODS = List.of("total", "frequency");

    public MergeOptions {
        majoritySignMethod = majoritySignMethod == null ? "total" : majoritySignMethod.toLowerCase(Locale.ROOT);
    }

    /** No options: no pruning density, total sign election, svd rank from the inputs, no clamping. */
    public static MergeOptions none() {
        return new MergeOptions(null, null, null, null);
    }

    @Override
    public void validate() {
        if (density != null && !(density > 0 && density <= 1)) {
            throw new ConfigException("density", "must be in (0, 1], got " + density);
        }
        if (!SIGN_METHODS.contains(majoritySignMethod)) {
            throw new ConfigException("majority_sign_method", "expected \"total\" or \"frequency\", got \""
                    + majoritySignMethod + "\"");
        }
        if (svdRank != null && svdRank < 1) {
            throw new ConfigException("svd_rank", "must be a positive integer, got " + svdRank);
        }
        if (svdClamp != null && !(svdClamp >= 0 && svdClamp <= 1)) {
            throw new ConfigException("svd_clamp", "must be a quantile in [0, 1], got " + svdClamp);
        }
    }

    /** {@link #validate()} plus what the combination type needs: a density for pruning types. */
    void check(CombinationType type) {
        validate();
        if (type.rule != null && type.rule.pruning() && density == null) {
            throw new ConfigException("density", "required for combination_type " + type.id
                    + " (fraction of entries kept, in (0, 1])");
        }
    }

    /** TIES elects the sign by counting signs rather than summing values. */
    boolean frequencySign() {
        return majoritySignMethod.equals("frequency");
    }

    /** Density for pruning, or 1 (no pruning) when not given. */
    double densityOrOne() {
        return density == null ? 1.0 : density;
    }
}
