package io.peft4j.api;

import java.util.List;
import java.util.Random;
import java.util.Set;
import org.pf4j.ExtensionPoint;

/**
 * Combines several adapters into a new one (Hugging Face PEFT's {@code add_weighted_adapter}): task arithmetic,
 * concatenation, SVD re-factorisation, TIES, DARE, magnitude pruning. Merging an adapter into the base weights is
 * done by each {@link LinearSiteModule} itself; a Merger builds new adapters.
 *
 * @param <O> the options record ({@code density}, {@code majority_sign_method}, {@code svd_rank} ...), see
 *            {@link ExtensionOptions}
 */
public interface Merger<O extends ExtensionOptions> extends ExtensionPoint {

    /** The id, e.g. {@code weighted}. */
    String id();

    /** One line for {@code peft4j plugins}. */
    String description();

    /**
     * The configuration of the combined adapter (PEFT's {@code add_weighted_adapter}, spec 9.1 and 9.6): a copy of
     * the first input's, of rank {@code rank} with the combined targets of all inputs. The platform creates the new
     * adapter with the first input's method and then sets every site's factors from {@link #combine} (scaling 1).
     *
     * @param inputs the inputs' configs, in order, each with its {@code target_modules} made explicit (a method's
     *               {@link Adapter#defaultTargets default targets} filled in)
     * @param rank   {@link #combinedRank} over the inputs
     */
    LowRankConfig combinedConfig(List<LowRankConfig> inputs, int rank);

    /** Combination types offered, e.g. {@code linear, cat, svd, ties, dare_linear, dare_ties, magnitude_prune}. */
    Set<String> combinationTypes();

    /** The options record type; the platform parses the merge options into it and validates it. */
    Class<O> optionsType();

    /**
     * The rank of the combined adapter, or a {@link ConfigException} when the inputs are incompatible for this
     * type (e.g. {@code linear} with different ranks) or the options do not fit it (e.g. a pruning type without
     * {@code density}).
     */
    int combinedRank(String combinationType, List<Integer> ranks, O options);

    /**
     * Combines the updates of one site. The result has scaling 1.
     *
     * @param weights one weight per input (may be negative)
     * @param rank    the combined adapter's rank ({@link #combinedRank} over all its inputs): types that
     *                re-factorise (svd) produce this rank at every site, as PEFT does
     * @param random  seeded source for random masks (DARE)
     */
    LowRankUpdate combine(String combinationType, List<LowRankUpdate> inputs, List<Double> weights, int rank,
                          O options, Random random);
}
