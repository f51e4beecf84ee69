package io.peft4j.plugins.merging;

import ai.djl.ndarray.NDArray;
import io.peft4j.api.ConfigException;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The options of one {@code add_weighted_adapter} call, validated.
 *
 * <ul>
 *   <li>{@code density}: fraction of entries kept by pruning types, in (0, 1]; 1 disables pruning (PEFT warns and
 *       returns the tensor unchanged). Required for {@code ties}, {@code dare_*}, {@code magnitude_prune} and their
 *       svd variants;</li>
 *   <li>{@code majority_sign_method}: {@code total} (default) or {@code frequency} (TIES sign election);</li>
 *   <li>{@code svd_rank}: rank of the svd family's result (default: the largest input rank);</li>
 *   <li>{@code svd_clamp}: quantile in [0, 1] at which the svd factors are clamped (default: none);</li>
 *   <li>{@code dare_keep_masks}: test hook, see {@link KeepMasks}. Without it DARE draws its masks from the
 *       {@code Random} given to {@code combine}.</li>
 * </ul>
 */
record MergeOptions(Double density, boolean frequencySign, Integer svdRank, Double svdClamp, KeepMasks keepMasks) {
    static final Set<String> KEYS = Set.of("density", "majority_sign_method", "svd_rank", "svd_clamp",
            KeepMasks.OPTION);

    static MergeOptions parse(CombinationType type, Map<String, Object> options) {
        Map<String, Object> o = options == null ? Map.of() : options;
        for (String k : o.keySet()) {
            if (!KEYS.contains(k)) {
                throw new ConfigException(k, "unknown merge option; valid options: " + KEYS.stream().sorted().toList());
            }
        }
        Double density = number(o, "density");
        if (type.rule != null && type.rule.pruning()) {
            if (density == null) {
                throw new ConfigException("density", "required for combination_type " + type.id
                        + " (fraction of entries kept, in (0, 1])");
            }
        }
        if (density != null && !(density > 0 && density <= 1)) {
            throw new ConfigException("density", "must be in (0, 1], got " + density);
        }
        Object sign = o.get("majority_sign_method");
        boolean frequency = false;
        if (sign != null) {
            String s = String.valueOf(sign).toLowerCase(Locale.ROOT);
            if (!s.equals("total") && !s.equals("frequency")) {
                throw new ConfigException("majority_sign_method", "expected \"total\" or \"frequency\", got \""
                        + sign + "\"");
            }
            frequency = s.equals("frequency");
        }
        Double rank = number(o, "svd_rank");
        if (rank != null && (rank < 1 || rank != Math.rint(rank))) {
            throw new ConfigException("svd_rank", "must be a positive integer, got " + o.get("svd_rank"));
        }
        Double clamp = number(o, "svd_clamp");
        if (clamp != null && !(clamp >= 0 && clamp <= 1)) {
            throw new ConfigException("svd_clamp", "must be a quantile in [0, 1], got " + clamp);
        }
        KeepMasks masks = KeepMasks.parse(o.get(KeepMasks.OPTION));
        if (masks != null && (type.rule == null || !type.rule.random())) {
            throw new ConfigException(KeepMasks.OPTION, "only applies to dare_* combination types, not " + type.id);
        }
        return new MergeOptions(density, frequency, rank == null ? null : rank.intValue(), clamp, masks);
    }

    /** Density for pruning, or 1 (no pruning) when not given. */
    double densityOrOne() {
        return density == null ? 1.0 : density;
    }

    private static Double number(Map<String, Object> o, String key) {
        Object v = o.get(key);
        if (v == null) {
            return null;
        }
        if (v instanceof Number n) {
            return n.doubleValue();
        }
        try {
            return Double.parseDouble(String.valueOf(v).trim());
        } catch (NumberFormatException e) {
            throw new ConfigException(key, "expected a number, got \"" + v + "\"");
        }
    }

    /**
     * Injected DARE keep masks (1 = keep), for reproducing reference results: option {@value #OPTION} is a
     * {@code List<Map<String, NDArray>>} with one map per input adapter, keyed {@code lora_A} and {@code lora_B}
     * (factor-wise types) or {@code delta_weight} (svd variants), each mask shaped like the tensor it prunes. When
     * present it replaces the random draw entirely; shapes and counts are checked.
     */
    record KeepMasks(List<Map<String, NDArray>> perInput) {
        static final String OPTION = "dare_keep_masks";

        @SuppressWarnings("unchecked")
        static KeepMasks parse(Object v) {
            if (v == null) {
                return null;
            }
            if (!(v instanceof List<?> l) || l.stream().anyMatch(e -> !(e instanceof Map<?, ?>))) {
                throw new ConfigException(OPTION, "expected a list with one map {lora_A|lora_B|delta_weight -> mask "
                        + "tensor} per input adapter");
            }
            return new KeepMasks((List<Map<String, NDArray>>) l);
        }

        /** The mask of input {@code i} for tensor {@code key} as 0/1 doubles, checked against {@code shape}. */
        double[] mask(int i, String key, long[] shape, int inputs) {
            if (perInput.size() != inputs) {
                throw new ConfigException(OPTION, "has " + perInput.size() + " entries but there are " + inputs
                        + " input adapters");
            }
            NDArray m = perInput.get(i).get(key);
            if (m == null) {
                throw new ConfigException(OPTION + "[" + i + "]." + key, "missing");
            }
            if (!java.util.Arrays.equals(m.getShape().getShape(), shape)) {
                throw new ConfigException(OPTION + "[" + i + "]." + key, "shape " + m.getShape()
                        + " does not match the tensor it masks, " + new ai.djl.ndarray.types.Shape(shape));
            }
            try (NDArray d = m.toType(ai.djl.ndarray.types.DataType.FLOAT64, true)) {
                return d.toDoubleArray();
            }
        }
    }
}
