package io.peft4j.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.LinearSiteModule;
import io.peft4j.api.LowRankSite;
import io.peft4j.api.ForwardContext;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A faster mixed batch for plain low-rank adapters (update exactly {@code s · B A}, nothing else: LoRA without
 * lora_bias), the batched-gather scheme of multi-LoRA servers (S-LoRA, punica): per linear layer the factors of every
 * such adapter attached there are stacked once, zero-padded to the largest rank, with an all-zero slot for rows
 * without adapter; a pass then gathers each row's factors and runs two batched matmuls, a fixed number of ops
 * whatever the number of adapters in the batch (the general path runs each adapter on its own rows).
 *
 * <p>Opt-in and owned by the caller (a server), who declares which adapters are plain (by the one rule,
 * {@code peft.PlainLowRank}) and must {@link #reset} the cache whenever adapters are added or removed or their
 * factors change. Pass it with
 * {@link RowAdapters#RowAdapters(List, LowRankStacks)}. Inference only.
 */
public final class LowRankStacks implements AutoCloseable {
    private final NDManager parent;
    private NDManager manager;
    private Set<String> plain = Set.of();
    private final Map<AdaptableLinear, Stack> stacks = new IdentityHashMap<>();

    /** Stacked factors of one linear layer: slot per adapter, the last slot zero. */
    private record Stack(Map<String, Integer> slots, NDArray downT, NDArray upT) {
    }

    public LowRankStacks(NDManager parent) {
        this.parent = parent;
        this.manager = parent.newSubManager();
    }

    /** Declares the plain low-rank adapters ({@code PlainLowRank.test}) and drops every cached stack. */
    public void reset(Set<String> plainAdapters) {
        manager.close();
        manager = parent.newSubManager();
        stacks.clear();
        plain = Set.copyOf(plainAdapters);
    }

    /**
     * The mixed-batch output of {@code layer}, or null when some adapter of the batch attached there is not plain
     * (the caller then takes the general path).
     */
    NDArray forward(AdaptableLinear layer, Map<String, LinearSiteModule> attached, NDArray x, NDArray y,
                    RowAdapters rows, ForwardContext ctx) {
        boolean any = false;
        for (String name : rows.rowsByAdapter().keySet()) {
            LinearSiteModule m = attached.get(name);
            if (m != null) {
                if (!plain.contains(name) || !(m instanceof LowRankSite)) {
                    return null;
                }
                any = true;
            }
        }
        if (!any) {
            return y;
        }
        Stack s = stacks.computeIfAbsent(layer, l -> build(attached));
        long[] slot = new long[rows.batchSize()];
        java.util.Arrays.fill(slot, s.slots().size());
        rows.rowsByAdapter().forEach((name, rs) -> {
            Integer k = s.slots().get(name);
            if (k != null) {
                for (long r : rs) {
                    slot[(int) r] = k;
                }
            }
        });
        NDIndex idx = new NDIndex("{}", ctx.manager().create(slot));
        NDArray down = x.matMul(s.downT().get(idx));      // [B, T, in] x [B, in, r] -> [B, T, r]
        return y.add(down.matMul(s.upT().get(idx)));      // [B, T, r] x [B, r, out]
    }

    private Stack build(Map<String, LinearSiteModule> attached) {
        List<LowRankSite> sites = new ArrayList<>();
        Map<String, Integer> slots = new HashMap<>();
        int maxRank = 1;
        for (Map.Entry<String, LinearSiteModule> e : attached.entrySet()) {
            if (plain.contains(e.getKey()) && e.getValue() instanceof LowRankSite l) {
                slots.put(e.getKey(), sites.size());
                sites.add(l);
                maxRank = Math.max(maxRank, l.rank());
            }
        }
        NDList downs = new NDList();
        NDList ups = new NDList();
        long in = -1;
        long out = -1;
        try (NDManager tmp = manager.newSubManager()) {
            for (LowRankSite l : sites) {
                NDArray a = l.loraA();                                  // [r, in]
                NDArray b = l.loraB();                                  // [out, r]
                in = a.getShape().get(1);
                out = b.getShape().get(0);
                int pad = maxRank - l.rank();
                // Results land in the first operand's manager: move them to tmp at once.
                NDArray aT = a.transpose();
                aT.attach(tmp);
                NDArray scaled = b.mul(l.scaling());
                scaled.attach(tmp);
                NDArray bT = scaled.transpose();
                if (pad > 0) {
                    aT = aT.concat(tmp.zeros(new Shape(in, pad), aT.getDataType()), 1);
                    bT = bT.concat(tmp.zeros(new Shape(pad, out), bT.getDataType()), 0);
                }
                downs.add(aT.expandDims(0));
                ups.add(bT.expandDims(0));
            }
            downs.add(tmp.zeros(new Shape(1, in, maxRank)));
            ups.add(tmp.zeros(new Shape(1, maxRank, out)));
            NDArray downT = NDArrays.concat(downs, 0);
            NDArray upT = NDArrays.concat(ups, 0);
            // Built inside a forward pass's NDScope, which would close them at its end: owned by this cache.
            NDScope.unregister(downT, upT);
            downT.attach(manager);
            upT.attach(manager);
            return new Stack(Map.copyOf(slots), downT, upT);
        }
    }

    @Override
    public void close() {
        manager.close();
        stacks.clear();
    }
}
