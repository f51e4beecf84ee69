package io.peft4j.plugins.merging;

import io.peft4j.plugins.merging.CombinationType.Rule;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The combining rules of PEFT's {@code utils/merge_utils.py} on flat, equally shaped tensors {@code T_i} with weights
 * {@code w_i} (spec section 9.2), computed in double precision:
 * <pre>
 *   linear            Σ w_i T_i
 *   magnitude_prune   Σ w_i P_i,               P_i = T_i with all but its top k = (int)(density·numel) |values| zeroed
 *   dare_linear       Σ w_i D_i,               D_i = T_i ⊙ keep_i / density,  keep_i ~ Bernoulli(density)
 *   ties              disjoint(P)               (P from magnitude pruning)
 *   dare_ties         disjoint(D)
 *   disjoint(X):      e = sign(Σ_i X_i) ("total") or sign(Σ_i sign(X_i)) ("frequency"), 0 counts as +;
 *                     k_i = [sign(X_i) == e] (zeros never match);  result = Σ_i w_i X_i k_i / max(1, Σ_i k_i)
 * </pre>
 * The sign election uses the pruned but unweighted tensors, as PEFT does. A density of 1 disables pruning.
 */
final class TaskArithmetic {

    /** Supplies DARE keep masks (1 = keep), one per input, each as long as the tensors. */
    interface KeepMasks {
        double[] keep(int input, int length);
    }

    private TaskArithmetic() {
    }

    static double[] combine(Rule rule, List<double[]> tensors, double[] weights, double density, boolean frequency,
                            KeepMasks masks) {
        int n = tensors.get(0).length;
        List<double[]> t = new ArrayList<>(tensors.size());
        for (int i = 0; i < tensors.size(); i++) {
            double[] x = tensors.get(i);
            if (x.length != n) {
                throw new IllegalArgumentException("tensors to combine differ in size: " + n + " vs " + x.length);
            }
            t.add(switch (rule) {
                case LINEAR -> x;
                case MAGNITUDE_PRUNE, TIES -> magnitudePrune(x, density);
                case DARE_LINEAR, DARE_TIES -> density >= 1 ? x : dare(x, masks.keep(i, n), density);
            });
        }
        return switch (rule) {
            case LINEAR, MAGNITUDE_PRUNE, DARE_LINEAR -> weightedSum(t, weights);
            case TIES, DARE_TIES -> disjointMerge(t, weights, frequency);
        };
    }

    static double[] weightedSum(List<double[]> t, double[] w) {
        double[] out = new double[t.get(0).length];
        for (int i = 0; i < t.size(); i++) {
            double[] x = t.get(i);
            for (int j = 0; j < out.length; j++) {
                out[j] += w[i] * x[j];
            }
        }
        return out;
    }

    /**
     * Keeps the {@code k = (int)(density · numel)} entries of largest magnitude (the product is truncated in double
     * precision, as Python's {@code int()} does: {@code int(0.57·100) = 56}). Equal magnitudes at the cut keep the
     * lower index (torch's {@code topk} order there is implementation-defined).
     */
    static double[] magnitudePrune(double[] x, double density) {
        if (density >= 1) {
            return x;
        }
        int k = (int) (density * x.length);
        double[] out = new double[x.length];
        if (k <= 0) {
            return out;
        }
        double[] mags = new double[x.length];
        for (int j = 0; j < x.length; j++) {
            mags[j] = Math.abs(x[j]);
        }
        double[] sorted = mags.clone();
        Arrays.sort(sorted);
        double cut = sorted[x.length - k];               // the k-th largest magnitude
        int above = 0;
        for (double m : mags) {
            if (m > cut) {
                above++;
            }
        }
        int atCutAllowed = k - above;
        for (int j = 0; j < x.length; j++) {
            if (mags[j] > cut) {
                out[j] = x[j];
            } else if (mags[j] == cut && atCutAllowed > 0) {
                out[j] = x[j];
                atCutAllowed--;
            }
        }
        return out;
    }

    /** DARE: drop entries where {@code keep == 0}, rescale the rest by {@code 1/density}. */
    static double[] dare(double[] x, double[] keep, double density) {
        double[] out = new double[x.length];
        for (int j = 0; j < x.length; j++) {
            out[j] = keep[j] != 0 ? x[j] / density : 0;
        }
        return out;
    }

    /** TIES steps 2-4: elect a sign per entry, keep agreeing entries, average the weighted survivors. */
    static double[] disjointMerge(List<double[]> t, double[] w, boolean frequency) {
        int n = t.get(0).length;
        double[] out = new double[n];
        for (int j = 0; j < n; j++) {
            double vote = 0;
            for (double[] x : t) {
                vote += frequency ? Math.signum(x[j]) : x[j];
            }
            double elected = vote >= 0 ? 1 : -1;
            double sum = 0;
            int kept = 0;
            for (int i = 0; i < t.size(); i++) {
                double v = t.get(i)[j];
                if (Math.signum(v) == elected) {
                    sum += w[i] * v;
                    kept++;
                }
            }
            out[j] = sum / Math.max(1, kept);
        }
        return out;
    }
}
