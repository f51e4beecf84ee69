package io.peft4j.plugins.merging;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.ConfigException;
import io.peft4j.api.LowRankConfig;
import io.peft4j.api.LowRankUpdate;
import io.peft4j.api.LinearAlgebra;
import io.peft4j.api.Merger;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import jakarta.inject.Inject;
import org.pf4j.Extension;

/**
 * Hugging Face PEFT's {@code add_weighted_adapter} for one site (spec section 9). With input factors
 * {@code A_i [r_i, in]}, {@code B_i [out, r_i]}, scalings {@code s_i} and weights {@code w_i}:
 * <ul>
 *   <li><b>factor-wise</b> ({@code linear, ties, dare_linear, dare_ties, magnitude_prune}; equal ranks): with
 *       {@code c_i = w_i s_i}, {@code A = COMBINE({A_i}, {sign(c_i)·√|c_i|})} and {@code B = COMBINE({B_i}, {√|c_i|})}
 *       separately (so {@code B A ≠ Σ c_i B_i A_i}: PEFT's behaviour, cross terms included);</li>
 *   <li><b>cat</b>: {@code A = [c_1 A_1; c_2 A_2; ...]}, {@code B = [B_1, B_2, ...]}, exactly
 *       {@code B A = Σ c_i B_i A_i}, rank {@code Σ r_i};</li>
 *   <li><b>svd family</b> ({@code svd, ties_svd, dare_linear_svd, dare_ties_svd, magnitude_prune_svd}):
 *       {@code ΔW = COMBINE({s_i B_i A_i}, {w_i})}, re-factorised by a rank-k SVD ({@link SvdFactors}),
 *       {@code k} the rank {@code combine} is given ({@link #combinedRank}: {@code svd_rank} or the largest input
 *       rank). The weight is {@code w_i}, not {@code w_i s_i}: each scaling
 *       is applied once (PEFT PR #3111; PEFT 0.20 applied it twice).</li>
 * </ul>
 * COMBINE is one of {@link TaskArithmetic}'s rules. The result has scaling 1. The type applies as given even to a
 * single input (a site where only one of the combined adapters is present is still pruned by {@code ties}, as in
 * PEFT); PEFT's rule that a call with one adapter uses {@code linear} belongs to the caller. Options: see
 * {@link MergeOptions}. DARE draws its keep masks from the given {@code Random}: one {@code nextDouble() < density}
 * per entry, row-major, inputs in order, all of A's masks before B's (svd variants: one mask per input over
 * {@code delta_weight}); tests replay reference masks through that order.
 */
@Extension
public final class WeightedMerger implements Merger<MergeOptions> {

    private final LinearAlgebra linearAlgebra;

    /** The platform injects its {@link LinearAlgebra} (bound in the root injector). */
    @Inject
    public WeightedMerger(LinearAlgebra linearAlgebra) {
        this.linearAlgebra = linearAlgebra;
    }
    public static final String ID = "weighted";

    @Override
    public String id() {
        return ID;
    }

    @Override
    public String description() {
        return "add_weighted_adapter: linear, cat, svd, ties, dare_linear, dare_ties, magnitude_prune (+ _svd variants)";
    }

    /** PEFT's combined config: see {@link CombinedConfig}. */
    @Override
    public LowRankConfig combinedConfig(List<LowRankConfig> inputs, int rank) {
        return CombinedConfig.of(inputs, rank);
    }

    @Override
    public Set<String> combinationTypes() {
        return CombinationType.ids();
    }

    @Override
    public Class<MergeOptions> optionsType() {
        return MergeOptions.class;
    }

    @Override
    public int combinedRank(String combinationType, List<Integer> ranks, MergeOptions o) {
        if (ranks.isEmpty()) {
            throw new ConfigException("adapters", "at least one adapter is needed to combine");
        }
        CombinationType type = CombinationType.parse(combinationType);
        o.check(type);
        if (type.needsEqualRanks() && ranks.stream().distinct().count() > 1) {
            throw new ConfigException("combination_type", type.id + " needs equal ranks, got " + ranks
                    + " (use cat or an svd type to combine adapters of different ranks)");
        }
        if (type == CombinationType.CAT) {
            return ranks.stream().mapToInt(Integer::intValue).sum();
        }
        if (type.svd) {
            return o.svdRank() != null ? o.svdRank() : ranks.stream().mapToInt(Integer::intValue).max().orElseThrow();
        }
        return ranks.get(0);
    }

    @Override
    public LowRankUpdate combine(String combinationType, List<LowRankUpdate> inputs, List<Double> weights, int rank,
                                 MergeOptions o, Random random) {
        if (inputs.isEmpty()) {
            throw new ConfigException("adapters", "at least one adapter is needed to combine");
        }
        if (weights.size() != inputs.size()) {
            throw new ConfigException("weights", "got " + weights.size() + " weights for " + inputs.size()
                    + " adapters; give exactly one weight per adapter");
        }
        CombinationType type = CombinationType.parse(combinationType);
        o.check(type);
        List<Factors> in = new ArrayList<>();
        for (LowRankUpdate u : inputs) {
            in.add(Factors.of(u));
        }
        Factors first = in.get(0);
        for (Factors f : in) {
            if (f.in != first.in || f.out != first.out) {
                throw new IllegalArgumentException("inputs belong to different layers: [" + first.out + ", "
                        + first.in + "] vs [" + f.out + ", " + f.in + "]");
            }
        }
        NDManager m = inputs.get(0).loraA().getManager();
        if (type == CombinationType.CAT) {
            return cat(in, weights, m);
        }
        if (type.svd) {
            return svd(linearAlgebra, type, in, weights, rank, o, random, m);
        }
        List<Integer> ranks = in.stream().map(f -> f.rank).toList();
        if (ranks.stream().distinct().count() > 1) {
            throw new ConfigException("combination_type", type.id + " needs equal ranks, got " + ranks);
        }
        int n = in.size();
        double[] wa = new double[n];
        double[] wb = new double[n];
        for (int i = 0; i < n; i++) {
            double c = weights.get(i) * in.get(i).scaling;
            wb[i] = Math.sqrt(Math.abs(c));
            wa[i] = c < 0 ? -wb[i] : wb[i];
        }
        double d = o.densityOrOne();
        double[] a = TaskArithmetic.combine(type.rule, in.stream().map(f -> f.a).toList(), wa, d, o.frequencySign(),
                masks(d, random));
        double[] b = TaskArithmetic.combine(type.rule, in.stream().map(f -> f.b).toList(), wb, d, o.frequencySign(),
                masks(d, random));
        return update(m, a, b, first.rank, first.in, first.out);
    }

    private static LowRankUpdate cat(List<Factors> in, List<Double> weights, NDManager m) {
        int rank = in.stream().mapToInt(f -> f.rank).sum();
        int cols = in.get(0).in;
        int out = in.get(0).out;
        double[] a = new double[rank * cols];
        double[] b = new double[out * rank];
        int row = 0;
        for (int i = 0; i < in.size(); i++) {
            Factors f = in.get(i);
            double c = weights.get(i) * f.scaling;
            for (int j = 0; j < f.rank * cols; j++) {
                a[row * cols + j] = c * f.a[j];
            }
            for (int o = 0; o < out; o++) {
                System.arraycopy(f.b, o * f.rank, b, o * rank + row, f.rank);
            }
            row += f.rank;
        }
        return update(m, a, b, rank, cols, out);
    }

    private static LowRankUpdate svd(LinearAlgebra la, CombinationType type, List<Factors> in, List<Double> weights,
                                     int k, MergeOptions o, Random random, NDManager m) {
        int out = in.get(0).out;
        int cols = in.get(0).in;
        List<double[]> deltas = in.stream().map(Factors::delta).toList();
        double[] w = weights.stream().mapToDouble(Double::doubleValue).toArray();
        double d = o.densityOrOne();
        double[] delta = TaskArithmetic.combine(type.rule, deltas, w, d, o.frequencySign(),
                masks(d, random));
        SvdFactors s = SvdFactors.of(la, delta, out, cols, k, o.svdClamp());
        return update(m, s.a(), s.b(), s.rank(), cols, out);
    }

    /** Bernoulli(density) draws from {@code random}, {@code nextDouble() < density} per entry. */
    private static TaskArithmetic.KeepMasks masks(double density, Random random) {
        return (i, len) -> {
            if (random == null) {
                throw new IllegalArgumentException("DARE needs a seeded java.util.Random");
            }
            double[] keep = new double[len];
            for (int j = 0; j < len; j++) {
                keep[j] = random.nextDouble() < density ? 1 : 0;
            }
            return keep;
        };
    }

    private static LowRankUpdate update(NDManager m, double[] a, double[] b, int rank, int in, int out) {
        NDArray na = m.create(toFloat(a), new Shape(rank, in));
        NDArray nb = m.create(toFloat(b), new Shape(out, rank));
        return new LowRankUpdate(na, nb, 1.0);
    }

    private static float[] toFloat(double[] x) {
        float[] f = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            f[i] = (float) x[i];
        }
        return f;
    }

    /** One input's factors as double arrays. */
    private record Factors(double[] a, double[] b, int rank, int in, int out, double scaling) {
        static Factors of(LowRankUpdate u) {
            long[] sa = u.loraA().getShape().getShape();
            long[] sb = u.loraB().getShape().getShape();
            if (sa.length != 2 || sb.length != 2 || sb[1] != sa[0]) {
                throw new IllegalArgumentException("expected lora_A [r, in] and lora_B [out, r], got "
                        + u.loraA().getShape() + " and " + u.loraB().getShape());
            }
            return new Factors(doubles(u.loraA()), doubles(u.loraB()), (int) sa[0], (int) sa[1], (int) sb[0],
                    u.scaling());
        }

        /** {@code s · B A}, [out, in]. */
        double[] delta() {
            double[] d = new double[out * in];
            for (int o = 0; o < out; o++) {
                for (int j = 0; j < rank; j++) {
                    double bv = scaling * b[o * rank + j];
                    if (bv == 0) {
                        continue;
                    }
                    int ar = j * in;
                    int dr = o * in;
                    for (int c = 0; c < in; c++) {
                        d[dr + c] += bv * a[ar + c];
                    }
                }
            }
            return d;
        }

        private static double[] doubles(NDArray x) {
            try (NDArray d = x.toType(DataType.FLOAT64, true)) {
                return d.toDoubleArray();
            }
        }
    }
}
