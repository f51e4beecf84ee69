package io.peft4j.core.train.data;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A train/eval split of one example list.
 *
 * @param train the training examples, in their original order
 * @param eval  the held-out examples, in their original order (empty when the fraction is 0)
 */
public record DatasetSplit(List<Example> train, List<Example> eval) {
    public DatasetSplit {
        train = List.copyOf(train);
        eval = List.copyOf(eval);
    }

    /**
     * Holds out {@code round(n * evalFraction)} examples (at least one when the fraction is positive), chosen by a
     * seeded Fisher-Yates shuffle ({@code java.util.Random(seed)}), so the same seed always holds out the same ones.
     *
     * @param evalFraction in [0, 1)
     */
    public static DatasetSplit split(List<Example> examples, double evalFraction, long seed) {
        if (!(evalFraction >= 0 && evalFraction < 1)) {
            throw new IllegalArgumentException("eval fraction must be in [0, 1), got " + evalFraction);
        }
        int n = examples.size();
        int nEval = evalFraction == 0 ? 0 : Math.max(1, (int) Math.round(n * evalFraction));
        if (n - nEval < 1) {
            throw new IllegalArgumentException("eval fraction " + evalFraction + " of " + n
                    + " examples leaves no training examples");
        }
        int[] idx = new int[n];
        for (int i = 0; i < n; i++) {
            idx[i] = i;
        }
        Random r = new Random(seed);
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = idx[i];
            idx[i] = idx[j];
            idx[j] = t;
        }
        boolean[] isEval = new boolean[n];
        for (int i = 0; i < nEval; i++) {
            isEval[idx[i]] = true;
        }
        List<Example> train = new ArrayList<>();
        List<Example> eval = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            (isEval[i] ? eval : train).add(examples.get(i));
        }
        return new DatasetSplit(train, eval);
    }
}
