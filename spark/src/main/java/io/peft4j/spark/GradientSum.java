package io.peft4j.spark;

import java.io.Serializable;
import java.util.Map;
import java.util.TreeMap;

/**
 * The {@code treeAggregate} value of one step: the sum of the workers' partial gradients. A task's result holds its
 * own partial as {@code float[]} (4 bytes per trainable element cross the network); partials are added in double, so
 * the result does not depend on the order in which Spark merges them.
 */
final class GradientSum implements Serializable {
    private float[] single;
    private double[] sum;
    private boolean[] defined;
    private double loss;
    private int partials;
    /** Compute nanoseconds per executor: tasks on one executor JVM run one after another. */
    private final Map<String, Long> computeNanos = new TreeMap<>();

    /** A worker's contribution; {@code gradient} is null for a worker that had no micro-batch this step. */
    record Partial(int worker, String executor, float[] gradient, boolean[] defined, double loss, long computeNanos)
            implements Serializable {
    }

    GradientSum add(Partial p) {
        computeNanos.merge(p.executor(), p.computeNanos(), Long::sum);
        partials++;
        if (p.gradient() == null) {
            return this;
        }
        loss += p.loss();
        addGradient(p.gradient(), null, p.defined());
        return this;
    }

    GradientSum merge(GradientSum o) {
        o.computeNanos.forEach((k, v) -> computeNanos.merge(k, v, Long::sum));
        partials += o.partials;
        loss += o.loss;
        if (o.single != null) {
            addGradient(o.single, null, o.defined);
        } else if (o.sum != null) {
            addGradient(null, o.sum, o.defined);
        }
        return this;
    }

    private void addGradient(float[] f, double[] d, boolean[] def) {
        int n = f != null ? f.length : d.length;
        if (single == null && sum == null) {
            if (f != null) {
                single = f;
            } else {
                sum = d.clone();
            }
            defined = def.clone();
            return;
        }
        if (sum == null) {
            sum = new double[n];
            for (int i = 0; i < n; i++) {
                sum[i] = single[i];
            }
            single = null;
        }
        if (sum.length != n) {
            throw new IllegalStateException("partial gradients of different sizes: " + sum.length + " and " + n);
        }
        for (int i = 0; i < n; i++) {
            sum[i] += f != null ? f[i] : d[i];
        }
        for (int i = 0; i < def.length; i++) {
            defined[i] |= def[i];
        }
    }

    /** The summed gradient rounded to float (null when no worker had a micro-batch). */
    float[] gradient() {
        if (single != null) {
            return single;
        }
        if (sum == null) {
            return null;
        }
        float[] out = new float[sum.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) sum[i];
        }
        return out;
    }

    boolean[] defined() {
        return defined;
    }

    double loss() {
        return loss;
    }

    int partials() {
        return partials;
    }

    /** The longest per-executor compute time: the step's critical path of forward/backward work. */
    long criticalComputeNanos() {
        return computeNanos.values().stream().mapToLong(Long::longValue).max().orElse(0);
    }

    int executors() {
        return computeNanos.size();
    }
}
