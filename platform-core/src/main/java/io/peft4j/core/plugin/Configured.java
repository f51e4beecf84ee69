package io.peft4j.core.plugin;

import io.peft4j.api.AdapterConfig;
import io.peft4j.api.AdapterInstance;
import io.peft4j.api.ExtensionOptions;
import io.peft4j.api.LowRankUpdate;
import io.peft4j.api.Merger;
import io.peft4j.api.OptimizerPolicy;
import io.peft4j.api.OptimizerSettings;
import io.peft4j.api.ParamGroup;
import io.peft4j.api.Parameter;
import io.peft4j.api.PlannedQuantization;
import io.peft4j.api.Quantizer;
import io.peft4j.api.RankAllocator;
import io.peft4j.core.config.OptionsCodec;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;

/**
 * Extensions bound to their options, parsed by {@link OptionsCodec} into the extension's {@code optionsType()}:
 * holding the pair keeps the options' type tied to the extension's, so calls need no cast. The factories are
 * generic so that an extension known only as {@code Quantizer<?>} is captured once.
 */
public final class Configured {
    private Configured() {
    }

    /** {@code quantizer} with {@code options} (null: none given) parsed strictly; errors under {@code field}. */
    public static <O extends ExtensionOptions> PlannedQuantization<O> quantization(Quantizer<O> quantizer,
                                                                                   Map<String, ?> options,
                                                                                   String field) {
        return new PlannedQuantization<>(quantizer, OptionsCodec.parse(quantizer.optionsType(), options, field,
                "quantizer '" + quantizer.id() + "'"));
    }

    /** As {@link #quantization}, leniently, for options read back from a saved model. */
    public static <O extends ExtensionOptions> PlannedQuantization<O> savedQuantization(Quantizer<O> quantizer,
                                                                                        Map<String, ?> options,
                                                                                        String file) {
        return new PlannedQuantization<>(quantizer, OptionsCodec.parseSaved(quantizer.optionsType(), options, file,
                "quantizer '" + quantizer.id() + "'"));
    }

    public static <O extends ExtensionOptions> Policy<O> policy(OptimizerPolicy<O> policy, Map<String, ?> options,
                                                                String field) {
        return new Policy<>(policy, OptionsCodec.parse(policy.optionsType(), options, field,
                "optimizer policy '" + policy.id() + "'"));
    }

    public static <O extends ExtensionOptions> Allocator<O> allocator(RankAllocator<O> allocator,
                                                                      Map<String, ?> options, String field) {
        return new Allocator<>(allocator, OptionsCodec.parse(allocator.optionsType(), options, field,
                "rank allocator '" + allocator.id() + "'"));
    }

    public static <O extends ExtensionOptions> Merge<O> merger(Merger<O> merger, Map<String, ?> options,
                                                               String field) {
        return new Merge<>(merger, OptionsCodec.parse(merger.optionsType(), options, field,
                "merger '" + merger.id() + "'"));
    }

    /** An optimizer policy with its options. */
    public record Policy<O extends ExtensionOptions>(OptimizerPolicy<O> policy, O options) {
        public Policy {
            Objects.requireNonNull(policy, "policy");
            Objects.requireNonNull(options, "options");
        }

        public List<ParamGroup> group(List<Parameter> trainable, OptimizerSettings base) {
            return policy.group(trainable, base, options);
        }
    }

    /** A rank allocator with its options. */
    public record Allocator<O extends ExtensionOptions>(RankAllocator<O> allocator, O options) {
        public Allocator {
            Objects.requireNonNull(allocator, "allocator");
            Objects.requireNonNull(options, "options");
        }

        public void validate(AdapterConfig config) {
            allocator.validate(config, options);
        }

        public RankAllocator.Schedule start(AdapterInstance adapter, int totalSteps) {
            return allocator.start(adapter, options, totalSteps);
        }
    }

    /** A merger with its options. */
    public record Merge<O extends ExtensionOptions>(Merger<O> merger, O options) {
        public Merge {
            Objects.requireNonNull(merger, "merger");
            Objects.requireNonNull(options, "options");
        }

        public int combinedRank(String combinationType, List<Integer> ranks) {
            return merger.combinedRank(combinationType, ranks, options);
        }

        public LowRankUpdate combine(String combinationType, List<LowRankUpdate> inputs, List<Double> weights,
                                     int rank, Random random) {
            return merger.combine(combinationType, inputs, weights, rank, options, random);
        }
    }
}
