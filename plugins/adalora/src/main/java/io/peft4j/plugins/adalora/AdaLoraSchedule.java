package io.peft4j.plugins.adalora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.RankAllocator;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One AdaLoRA adapter's allocation state during a run (PEFT {@code RankAllocator} plus
 * {@code AdaLoraModel.update_and_allocate}). {@link #afterStep} runs the {@link BudgetSchedule} action of the step:
 *
 * <p><b>update_ipt</b>, for every {@code p ∈ {A, E, B}} of every module with gradient {@code g}, element-wise, EMAs
 * starting at 0:
 * <pre>
 *   ipt     = |p ⊙ g|
 *   ema_ipt = β1 · ema_ipt + (1 - β1) · ipt
 *   ema_unc = β2 · ema_unc + (1 - β2) · |ipt - ema_ipt|        (with the ema_ipt just updated)
 *   s(p)    = ema_ipt ⊙ ema_unc
 * </pre>
 * <b>mask_to_budget(b)</b>: per module and triplet i, {@code S_i = s(E)[i] + (mean_j s(A)[i, j] + mean_k s(B)[k, i])};
 * {@code threshold} = the k-th smallest of all modules' S (1-based, {@code k = init_bgt - b}); {@code E[i] = 0}
 * wherever {@code S_i <= threshold} (ties can prune more than k); the module's pattern is {@code S_i > threshold}.
 * With {@code k <= 0} (budget not below the initial one) nothing is pruned (torch's kthvalue would raise).
 *
 * <p>Step numbering: the platform passes its 1-based optimizer step; PEFT's {@code global_step} is the number of
 * optimizer steps completed before the current one (PEFT's own AdaLoRA training loops call
 * {@code update_and_allocate(global_step)} after {@code optimizer.step()} with {@code global_step = 0} at the first
 * step and increment it afterwards). The schedule is therefore evaluated at {@code step - 1}. Using the 1-based step
 * directly ran the schedule one step ahead of PEFT, so at a given optimizer step the budget was already the next
 * step's (e.g. 6 triplets kept instead of PEFT's 7 for init_r 6 on two 24 -> 10 modules, total_step 20). As in PEFT,
 * the forced final allocation happens at optimizer step {@code total_step - tfinal + 1}: with {@code tfinal = 0} and
 * {@code total_step} equal to the run's steps it never happens, and the last budget comes from the cubic schedule.
 * State lives in its own manager (a child of the adapter's), and per-step temporaries in a sub-manager closed at the
 * end of the step.
 */
public final class AdaLoraSchedule implements RankAllocator.Schedule {
    private final AdaLoraInstance adapter;
    private final BudgetSchedule schedule;
    private final float beta1;
    private final float beta2;
    private final float oneMinusBeta1;
    private final float oneMinusBeta2;
    private final NDManager state;
    /** EMA state per tensor key {@code <path>.lora_A|E|B}: [exp_avg_ipt, exp_avg_unc]. */
    private final Map<String, NDArray[]> ema = new LinkedHashMap<>();
    private final Map<String, NDArray> tripletScores = new LinkedHashMap<>();
    private NDManager exported;   // arrays made by the last stateDict() call
    private static final String IPT = ".exp_avg_ipt";
    private static final String UNC = ".exp_avg_unc";
    private static final String PATTERN = ".rank_pattern";
    private BudgetSchedule.Decision last;
    private Double lastThreshold;
    private Integer lastK;

    AdaLoraSchedule(AdaLoraInstance adapter, BudgetSchedule schedule, double beta1, double beta2) {
        this.adapter = adapter;
        this.schedule = schedule;
        // Python computes 1 - beta in double; torch then uses the scalars as float32.
        this.beta1 = (float) beta1;
        this.beta2 = (float) beta2;
        this.oneMinusBeta1 = (float) (1.0 - beta1);
        this.oneMinusBeta2 = (float) (1.0 - beta2);
        NDManager owner = adapter.modules().values().stream().findFirst()
                .map(l -> l.loraA().getManager()).orElseThrow(() -> new IllegalStateException(
                        "adapter '" + adapter.name() + "' has no modules to allocate ranks for"));
        this.state = owner.newSubManager();
    }

    BudgetSchedule budgetSchedule() {
        return schedule;
    }

    /** @param step the platform's 1-based optimizer step; PEFT's {@code global_step} is {@code step - 1} */
    @Override
    public void afterStep(int step) {
        BudgetSchedule.Decision d = schedule.at(step - 1);
        last = d;
        switch (d.action()) {
            case UPDATE_IPT -> updateImportance();
            case UPDATE_IPT_AND_MASK -> {
                updateImportance();
                adapter.setRankPattern(maskToBudget(d.budget()));
            }
            case FINAL_MASK -> {
                adapter.setRankPattern(maskToBudget(d.budget()));
                resetImportance();
            }
            case MASK_USING_PATTERN -> {
                // The pattern of the final allocation (restored from the checkpoint on resume) stays applied.
                if (adapter.rankPattern() != null) {
                    applyPattern(adapter.rankPattern());
                }
            }
        }
    }

    @Override
    public Map<String, Integer> currentRanks() {
        Map<String, Integer> out = new LinkedHashMap<>();
        Map<String, List<Boolean>> pattern = adapter.rankPattern();
        adapter.modules().forEach((path, l) -> {
            List<Boolean> mask = pattern == null ? null : pattern.get(path + AdaLoraConfig.PATTERN_SUFFIX);
            out.put(path, mask == null ? l.rank() : (int) mask.stream().filter(b -> b).count());
        });
        return out;
    }

    /**
     * Read-only view of the allocator's internals after the last {@link #afterStep}, for tests and reports (found
     * reflectively by the golden runner, which cannot see plugin classes): {@code step} (PEFT's global_step),
     * {@code budget},
     * {@code mask_ind}, {@code action} (the golden label), {@code threshold} and {@code k} of the last allocation
     * (absent before one), and per module {@code <path>.triplet_score [r]} and
     * {@code <path>.lora_A|lora_E|lora_B.exp_avg_ipt|exp_avg_unc}. Arrays stay valid until the next step.
     */
    public Map<String, Object> diagnostics() {
        Map<String, Object> out = new LinkedHashMap<>();
        if (last != null) {
            out.put("step", last.step());
            out.put("budget", last.budget());
            out.put("mask_ind", last.maskInd());
            out.put("action", last.action().label());
        }
        if (lastThreshold != null) {
            out.put("threshold", lastThreshold);
            out.put("k", lastK);
        }
        tripletScores.forEach((path, s) -> out.put(path + ".triplet_score", s));
        ema.forEach((key, v) -> {
            out.put(key + ".exp_avg_ipt", v[0]);
            out.put(key + ".exp_avg_unc", v[1]);
        });
        return out;
    }

    /**
     * {@code <path>.lora_A|lora_E|lora_B.exp_avg_ipt|exp_avg_unc} (the EMAs; absent after the final mask reset
     * them) and {@code <path>.rank_pattern} (1/0 per triplet, once an allocation happened).
     */
    @Override
    public Map<String, NDArray> stateDict() {
        Map<String, NDArray> out = new LinkedHashMap<>();
        ema.forEach((key, v) -> {
            out.put(key + IPT, v[0]);
            out.put(key + UNC, v[1]);
        });
        Map<String, List<Boolean>> pattern = adapter.rankPattern();
        if (exported != null) {
            exported.close();   // the previous call's pattern arrays: read by then
        }
        exported = state.newSubManager();
        if (pattern != null) {
            pattern.forEach((key, keep) -> {
                float[] bits = new float[keep.size()];
                for (int i = 0; i < bits.length; i++) {
                    bits[i] = keep.get(i) ? 1f : 0f;
                }
                out.put(key.substring(0, key.length() - AdaLoraConfig.PATTERN_SUFFIX.length()) + PATTERN,
                        exported.create(bits));
            });
        }
        return out;
    }

    @Override
    public void loadStateDict(Map<String, NDArray> saved) {
        resetImportance();
        Map<String, List<Boolean>> pattern = new LinkedHashMap<>();
        saved.forEach((key, value) -> {
            if (key.endsWith(PATTERN)) {
                String path = key.substring(0, key.length() - PATTERN.length());
                AdaLoraLayer l = adapter.modules().get(path);
                if (l == null || value.size() != l.rank()) {
                    throw new IllegalArgumentException("AdaLoRA allocator state: " + key + " does not match adapter '"
                            + adapter.name() + "' (" + (l == null ? "no such module" : "rank " + l.rank()) + ")");
                }
                List<Boolean> keep = new ArrayList<>();
                for (float v : value.toFloatArray()) {
                    keep.add(v != 0f);
                }
                pattern.put(path + AdaLoraConfig.PATTERN_SUFFIX, keep);
                return;
            }
            boolean ipt = key.endsWith(IPT);
            if (!ipt && !key.endsWith(UNC)) {
                throw new IllegalArgumentException("AdaLoRA allocator state: unknown key " + key);
            }
            String tensor = key.substring(0, key.length() - (ipt ? IPT : UNC).length());
            NDArray p = parameter(tensor);
            if (p == null || !p.getShape().equals(value.getShape())) {
                throw new IllegalArgumentException("AdaLoRA allocator state: " + key + " " + value.getShape()
                        + " does not match adapter '" + adapter.name() + "'"
                        + (p == null ? " (no such parameter)" : " (parameter shape " + p.getShape() + ")"));
            }
            NDArray[] e = ema.computeIfAbsent(tensor, k -> new NDArray[2]);
            NDArray copy = value.duplicate();
            copy.attach(state);
            e[ipt ? 0 : 1] = copy;
        });
        ema.forEach((key, v) -> {
            if (v[0] == null || v[1] == null) {
                throw new IllegalArgumentException("AdaLoRA allocator state: " + key + " has only one of "
                        + IPT + " / " + UNC);
            }
        });
        if (!pattern.isEmpty()) {
            adapter.setRankPattern(pattern);
        }
    }

    private NDArray parameter(String key) {
        int dot = key.lastIndexOf('.');
        AdaLoraLayer l = dot < 0 ? null : adapter.modules().get(key.substring(0, dot));
        if (l == null) {
            return null;
        }
        return switch (key.substring(dot + 1)) {
            case "lora_A" -> l.loraA();
            case "lora_E" -> l.loraE();
            case "lora_B" -> l.loraB();
            default -> null;
        };
    }

    private void updateImportance() {
        try (NDManager step = state.newSubManager()) {
            adapter.modules().forEach((path, l) -> {
                if (l.rank() == 0) {
                    return;
                }
                update(step, path + ".lora_A", l.loraA());
                update(step, path + ".lora_E", l.loraE());
                update(step, path + ".lora_B", l.loraB());
            });
        }
    }

    private void update(NDManager step, String key, NDArray p) {
        NDArray[] e = ema.computeIfAbsent(key, k -> new NDArray[] {state.zeros(p.getShape()),
                state.zeros(p.getShape())});
        NDArray ipt;
        try (NDArray g = p.getGradient()) {
            if (g == null || !g.getShape().equals(p.getShape())) {
                throw new IllegalStateException("AdaLoRA rank allocation: " + key + " has no gradient; afterStep must "
                        + "run after backward() and before the gradients are cleared");
            }
            ipt = p.mul(g);
            ipt.attach(step);   // results of ops on p land in p's (long-lived) manager otherwise
        }
        ipt = ipt.abs();
        e[0].muli(beta1).addi(ipt.mul(oneMinusBeta1));
        e[1].muli(beta2).addi(ipt.sub(e[0]).abs().muli(oneMinusBeta2));
    }

    private void resetImportance() {
        ema.values().forEach(v -> {
            v[0].close();
            v[1].close();
        });
        ema.clear();
    }

    /** PEFT's {@code mask_to_budget}: zeroes the least important triplets' E and returns the new pattern. */
    private Map<String, List<Boolean>> maskToBudget(int budget) {
        int initBgt = schedule.initBgt();
        tripletScores.values().forEach(NDArray::close);
        tripletScores.clear();
        List<Float> all = new ArrayList<>();
        try (NDManager step = state.newSubManager()) {
            adapter.modules().forEach((path, l) -> {
                if (l.rank() == 0) {
                    return;
                }
                NDArray sA = score(step, path + ".lora_A", l.loraA());
                NDArray sE = score(step, path + ".lora_E", l.loraE());
                NDArray sB = score(step, path + ".lora_B", l.loraB());
                NDArray ab = sA.mean(new int[] {1}).add(sB.mean(new int[] {0}));
                NDArray s = sE.reshape(-1).add(ab);
                s.attach(state);
                tripletScores.put(path, s);
                for (float v : s.toFloatArray()) {
                    all.add(v);
                }
            });
        }
        int k = initBgt - budget;
        float threshold;
        if (k <= 0) {
            threshold = Float.NEGATIVE_INFINITY;
        } else {
            float[] sorted = new float[all.size()];
            for (int i = 0; i < sorted.length; i++) {
                sorted[i] = all.get(i);
            }
            Arrays.sort(sorted);
            threshold = sorted[Math.min(k, sorted.length) - 1];
        }
        lastThreshold = (double) threshold;
        lastK = k;
        Map<String, List<Boolean>> pattern = new LinkedHashMap<>();
        adapter.modules().forEach((path, l) -> {
            List<Boolean> keep = new ArrayList<>();
            NDArray s = tripletScores.get(path);
            if (s != null) {
                for (float v : s.toFloatArray()) {
                    keep.add(!(v <= threshold));
                }
            }
            pattern.put(path + AdaLoraConfig.PATTERN_SUFFIX, keep);
        });
        applyPattern(pattern);
        return pattern;
    }

    /** Element score {@code ema_ipt ⊙ ema_unc} (zeros for a tensor never updated). */
    private NDArray score(NDManager step, String key, NDArray p) {
        NDArray[] e = ema.get(key);
        if (e == null) {
            return step.zeros(p.getShape());
        }
        NDArray s = e[0].mul(e[1]);
        s.attach(step);
        return s;
    }

    /** Sets {@code E[i] = 0} wherever the module's pattern is false (PEFT's {@code masked_fill_}). */
    private void applyPattern(Map<String, List<Boolean>> pattern) {
        adapter.modules().forEach((path, l) -> {
            List<Boolean> mask = pattern.get(path + AdaLoraConfig.PATTERN_SUFFIX);
            if (mask == null || l.rank() == 0 || mask.size() != l.rank()) {
                return;
            }
            boolean[] keep = new boolean[mask.size()];
            for (int i = 0; i < keep.length; i++) {
                keep[i] = mask.get(i);
            }
            try (NDManager tmp = state.newSubManager()) {
                NDArray k = tmp.create(keep, new Shape(keep.length, 1));
                NDArray e = l.loraE();
                NDArray kept = NDArrays.where(k, e, tmp.zeros(e.getShape()));
                kept.attach(tmp);
                e.set(new NDIndex("..."), kept);
            }
        });
    }
}
