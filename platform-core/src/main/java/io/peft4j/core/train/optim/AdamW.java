package io.peft4j.core.train.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import io.peft4j.api.ParamGroup;
import io.peft4j.api.Parameter;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * AdamW with PyTorch's {@code torch.optim.AdamW} semantics (single-tensor path, {@code amsgrad=False}). For each
 * trainable parameter {@code p} with gradient {@code g}, at its step {@code t} (1-based), with the group's learning
 * rate {@code lr = group.lr * lrFactor} and weight decay {@code wd}:
 *
 * <pre>
 *   p  = p * (1 - lr * wd)                       (decoupled weight decay)
 *   m  = m + (1 - beta1) * (g - m)               (torch: exp_avg.lerp_(g, 1 - beta1))
 *   v  = beta2 * v + (1 - beta2) * g * g
 *   bc1 = 1 - beta1^t,  bc2 = 1 - beta2^t
 *   denom = sqrt(v) / sqrt(bc2) + eps
 *   p  = p - (lr / bc1) * m / denom
 * </pre>
 *
 * <p>State ({@code m}, {@code v}, {@code t} per parameter name) lives in the optimizer's own sub-manager, created
 * lazily on the first step a parameter has a gradient, outside any {@link NDScope} (a scope would close it).
 * Updates are in place and must run outside the {@code GradientCollector} (in-place ops on a leaf that requires grad
 * are refused inside it).
 *
 * <p>Gradients are read but not cleared by {@link #step}: call {@link #zeroGrad()} afterwards (the trainer runs
 * per-step callbacks in between). A parameter whose gradient was never defined is skipped, as PyTorch skips
 * {@code grad is None}; {@link #zeroGrad()} zeroes gradients in place (PyTorch {@code set_to_none=False}), so once a
 * parameter has had a gradient it keeps being stepped (with a zero gradient if a later pass did not reach it).
 */
public final class AdamW implements AutoCloseable {
    /** Prefix of the first-moment tensors in {@link #stateTensors()}. */
    public static final String EXP_AVG = "exp_avg.";
    /** Prefix of the second-moment tensors in {@link #stateTensors()}. */
    public static final String EXP_AVG_SQ = "exp_avg_sq.";

    private final List<ParamGroup> groups;
    private final double beta1;
    private final double beta2;
    private final double eps;
    private final NDManager manager;
    private final Map<String, State> state = new LinkedHashMap<>();

    private static final class State {
        NDArray m;
        NDArray v;
        long step;
    }

    /**
     * @param groups  parameter groups; only {@link Parameter#trainable() trainable} parameters are updated; a
     *                parameter name may appear in one group only
     * @param beta1   first-moment decay in [0, 1)
     * @param beta2   second-moment decay in [0, 1)
     * @param eps     added to the bias-corrected {@code sqrt(v)}, &gt; 0
     * @param parent  manager under which the optimizer's own state manager is created
     */
    public AdamW(List<ParamGroup> groups, double beta1, double beta2, double eps, NDManager parent) {
        if (!(beta1 >= 0 && beta1 < 1)) {
            throw new IllegalArgumentException("beta1 must be in [0, 1), got " + beta1);
        }
        if (!(beta2 >= 0 && beta2 < 1)) {
            throw new IllegalArgumentException("beta2 must be in [0, 1), got " + beta2);
        }
        if (!(eps > 0)) {
            throw new IllegalArgumentException("eps must be > 0, got " + eps);
        }
        Set<String> seen = new HashSet<>();
        for (ParamGroup g : groups) {
            if (!(g.lr() >= 0) || !(g.weightDecay() >= 0)) {
                throw new IllegalArgumentException("group '" + g.name() + "': lr and weight decay must be >= 0, got lr="
                        + g.lr() + ", weight_decay=" + g.weightDecay());
            }
            for (Parameter p : g.parameters()) {
                if (!seen.add(p.name())) {
                    throw new IllegalArgumentException("parameter '" + p.name() + "' appears in more than one group");
                }
            }
        }
        this.groups = List.copyOf(groups);
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.manager = parent.newSubManager();
    }

    public List<ParamGroup> groups() {
        return groups;
    }

    /** The manager holding {@code m} and {@code v}; its array count is constant once every state exists. */
    public NDManager manager() {
        return manager;
    }

    /**
     * One update of every trainable parameter that has a gradient.
     *
     * @param lrFactor multiplier of every group's learning rate (the schedule's value for this step)
     */
    public void step(double lrFactor) {
        for (ParamGroup group : groups) {
            double lr = group.lr() * lrFactor;
            double wd = group.weightDecay();
            for (Parameter p : group.parameters()) {
                if (!p.trainable()) {
                    continue;
                }
                try (NDArray g = gradientOrNull(p.value())) {
                    if (g != null) {
                        update(p, g, lr, wd);
                    }
                }
            }
        }
    }

    private void update(Parameter p, NDArray g, double lr, double wd) {
        State s = state.get(p.name());
        if (s == null) {
            // Created before the NDScope below opens: the scope would otherwise close the state.
            s = new State();
            s.m = manager.zeros(p.value().getShape(), p.value().getDataType());
            s.v = manager.zeros(p.value().getShape(), p.value().getDataType());
            state.put(p.name(), s);
        }
        s.step++;
        double bc1 = 1 - Math.pow(beta1, s.step);
        double bc2 = 1 - Math.pow(beta2, s.step);
        NDArray w = p.value();
        try (NDScope ignored = new NDScope()) {
            if (lr * wd != 0) {
                w.muli((float) (1 - lr * wd));
            }
            s.m.addi(g.sub(s.m).muli((float) (1 - beta1)));
            s.v.muli((float) beta2).addi(g.mul(g).muli((float) (1 - beta2)));
            NDArray denom = s.v.sqrt().divi((float) Math.sqrt(bc2)).addi((float) eps);
            w.subi(s.m.div(denom).muli((float) (lr / bc1)));
        }
    }

    /** Zeroes the gradient of every trainable parameter in place (those that have one). */
    public void zeroGrad() {
        for (ParamGroup group : groups) {
            for (Parameter p : group.parameters()) {
                if (p.trainable()) {
                    zeroGradient(p.value());
                }
            }
        }
    }

    /** Zeroes the gradient of one array in place if it has one. */
    public static void zeroGradient(NDArray a) {
        if (a instanceof PtNDArray pt) {
            if (pt.hasGradient()) {
                JniUtils.zeroGrad(pt);
            }
        } else if (a.hasGradient()) {
            try (NDArray g = a.getGradient()) {
                g.muli(0);
            }
        }
    }

    /**
     * A new handle to the gradient (the caller closes it), or null when the array has no defined gradient.
     * DJL's {@code getGradient()} would return fresh zeros instead, which would make an untouched parameter decay.
     */
    public static NDArray gradientOrNull(NDArray a) {
        if (!a.hasGradient()) {
            return null;
        }
        if (a instanceof PtNDArray pt) {
            return JniUtils.getGradient(pt);
        }
        return a.getGradient();
    }

    /** Per-parameter step counts (PyTorch {@code state[p]["step"]}). */
    public Map<String, Long> steps() {
        Map<String, Long> out = new LinkedHashMap<>();
        state.forEach((k, s) -> out.put(k, s.step));
        return Collections.unmodifiableMap(out);
    }

    /**
     * The moment tensors by key ({@link #EXP_AVG} + name, {@link #EXP_AVG_SQ} + name). The arrays are the live
     * state: write them out, do not close them.
     */
    public Map<String, NDArray> stateTensors() {
        Map<String, NDArray> out = new LinkedHashMap<>();
        state.forEach((k, s) -> {
            out.put(EXP_AVG + k, s.m);
            out.put(EXP_AVG_SQ + k, s.v);
        });
        return out;
    }

    /**
     * Replaces the state by a saved one. Every name in {@code steps} must be a trainable parameter of this optimizer
     * and have both moment tensors with the parameter's shape. The tensors are copied into the optimizer's manager.
     */
    public void loadState(Map<String, NDArray> tensors, Map<String, Long> steps) {
        Map<String, Parameter> byName = new LinkedHashMap<>();
        for (ParamGroup g : groups) {
            for (Parameter p : g.parameters()) {
                if (p.trainable()) {
                    byName.put(p.name(), p);
                }
            }
        }
        Map<String, State> loaded = new LinkedHashMap<>();
        for (Map.Entry<String, Long> e : steps.entrySet()) {
            String name = e.getKey();
            Parameter p = byName.get(name);
            if (p == null) {
                throw new IllegalArgumentException("optimizer state names parameter '" + name
                        + "', which is not a trainable parameter of this optimizer");
            }
            State s = new State();
            s.step = e.getValue();
            s.m = copyChecked(tensors.get(EXP_AVG + name), EXP_AVG + name, p);
            s.v = copyChecked(tensors.get(EXP_AVG_SQ + name), EXP_AVG_SQ + name, p);
            loaded.put(name, s);
        }
        clearState();
        state.putAll(loaded);
    }

    private NDArray copyChecked(NDArray t, String key, Parameter p) {
        if (t == null) {
            throw new IllegalArgumentException("optimizer state is missing tensor '" + key + "'");
        }
        if (!t.getShape().equals(p.value().getShape())) {
            throw new IllegalArgumentException("optimizer state tensor '" + key + "' has shape " + t.getShape()
                    + ", parameter has " + p.value().getShape());
        }
        NDArray c = manager.create(t.getShape(), p.value().getDataType());
        NDArray src = t.getDataType() == c.getDataType() ? t : t.toType(c.getDataType(), false);
        src.copyTo(c);
        if (src != t) {
            src.close();
        }
        return c;
    }

    private void clearState() {
        for (State s : state.values()) {
            s.m.close();
            s.v.close();
        }
        state.clear();
    }

    @Override
    public void close() {
        clearState();
        manager.close();
    }
}
