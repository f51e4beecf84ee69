package io.peft4j.core.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import io.peft4j.api.Parameter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The best eval of a run and early stopping, with Hugging Face Trainer's rules: an eval is the new best when its loss
 * is strictly lower than the best so far ({@code _determine_best_metric}); the patience count is reset only by an
 * improvement of more than the threshold ({@code EarlyStoppingCallback}). With {@code keepWeights} a copy of the
 * trainable tensors at the best eval is held (adapter-sized), so the run can end with them.
 */
final class BestEval implements AutoCloseable {
    /** Whole-tensor in-place assignment (torch index_put; unlike copyTo it raises no deprecated-guard warning). */
    private static final NDIndex ALL = new NDIndex("...");
    private final boolean keepWeights;
    private final int patience;
    private final double threshold;
    private final NDManager copies;
    private final Map<String, NDArray> weights = new LinkedHashMap<>();
    private Integer step;
    private Double loss;
    private int stale;

    BestEval(boolean keepWeights, int patience, double threshold, NDManager parent) {
        this.keepWeights = keepWeights;
        this.patience = patience;
        this.threshold = threshold;
        this.copies = parent.newSubManager();
    }

    /** Records the eval of {@code evalStep}; returns true when it is the new best. */
    boolean observe(int evalStep, double evalLoss, List<Parameter> trainable) {
        boolean better = loss == null || evalLoss < loss;
        boolean resets = loss == null || loss - evalLoss > threshold;
        stale = resets ? 0 : stale + 1;
        if (better) {
            step = evalStep;
            loss = evalLoss;
            if (keepWeights) {
                for (Parameter p : trainable) {
                    copyInto(p.name(), p.value());
                }
            }
        }
        return better;
    }

    /** True when early stopping is on and the last {@code patience} evals did not improve enough. */
    boolean shouldStop() {
        return patience > 0 && stale >= patience;
    }

    /** Restores the history a checkpoint recorded; {@code bestWeights} (may be null) are that step's tensors. */
    void resume(Integer bestStep, Double bestLoss, Integer evalsWithoutImprovement, Map<String, NDArray> bestWeights) {
        step = bestStep;
        loss = bestLoss;
        stale = evalsWithoutImprovement == null ? 0 : evalsWithoutImprovement;
        if (keepWeights && bestWeights != null) {
            bestWeights.forEach(this::copyInto);
        }
    }

    /** Whether weights of the best eval are held for every trainable parameter. */
    boolean hasWeights(List<Parameter> trainable) {
        return step != null && trainable.stream().allMatch(p -> weights.containsKey(p.name()));
    }

    /** Copies the best eval's tensors into the parameters (in place, outside any gradient collector). */
    void restoreInto(List<Parameter> trainable) {
        for (Parameter p : trainable) {
            p.value().set(ALL, weights.get(p.name()));
        }
    }

    Integer step() {
        return step;
    }

    Double loss() {
        return loss;
    }

    int evalsWithoutImprovement() {
        return stale;
    }

    private void copyInto(String name, NDArray value) {
        NDArray copy = weights.get(name);
        if (copy == null || !copy.getShape().equals(value.getShape())) {
            if (copy != null) {
                copy.close();
            }
            copy = copies.create(value.getShape(), value.getDataType());
            weights.put(name, copy);
        }
        copy.set(ALL, value);
    }

    @Override
    public void close() {
        copies.close();
    }
}
