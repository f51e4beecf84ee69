package io.peft4j.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import io.peft4j.api.ForwardContext;
import io.peft4j.api.LinearBase;
import io.peft4j.api.LinearSiteModule;
import io.peft4j.api.QuantizedWeight;
import io.peft4j.api.SiteInfo;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A frozen linear layer {@code y = x W^T + b} that adapters attach to. Holds the base weight either in full
 * precision or as a {@link QuantizedWeight}, plus the adapters attached here in attachment order.
 *
 * <p>Forward: {@code base(x)}, then each active, unmerged adapter in the order of the active list, each receiving
 * the output so far (Hugging Face PEFT semantics). In a mixed batch ({@link RowAdapters} in the context) each
 * row gets only its own adapter instead.
 */
public final class AdaptableLinear implements LinearBase {
    private final SiteInfo site;
    private final NDManager manager;
    private NDArray weight;              // [out, in] float32, null when quantized
    private QuantizedWeight quantized;   // non-null when the base is stored quantized
    private NDArray bias;                // [out] or null
    private final Map<String, LinearSiteModule> adapters = new LinkedHashMap<>();
    private final List<String> merged = new ArrayList<>();
    private NDArray forwardWeight;       // dequantized weight of the forward pass in progress (quantized base only)

    public AdaptableLinear(SiteInfo site, NDManager manager, NDArray weight, NDArray bias) {
        this.site = site;
        this.manager = manager;
        this.weight = weight;
        this.bias = bias;
        checkShape(weight);
    }

    @Override
    public SiteInfo site() {
        return site;
    }

    /**
     * Base output, then adapters. {@code active} lists the adapter names to apply, in order; adapters not attached
     * here are skipped, as are merged ones (already part of the weight).
     */
    public NDArray forward(NDArray x, List<String> active, ForwardContext ctx) {
        NDArray w = quantized != null ? quantized.dequantize(ctx.manager()) : weight;
        NDArray y = x.getNDArrayInternal().linear(x, w, bias).singletonOrThrow();
        if (adapters.isEmpty()) {
            return y;
        }
        forwardWeight = quantized != null ? w : null;
        try {
            if (ctx instanceof PlatformForwardContext p && p.rowAdapters() != null) {
                return forwardMixed(x, y, p.rowAdapters(), ctx);
            }
            for (String name : active) {
                LinearSiteModule m = adapters.get(name);
                if (m != null && !merged.contains(name)) {
                    y = m.forward(x, y, this, ctx);
                }
            }
        } finally {
            forwardWeight = null;
        }
        return y;
    }

    /**
     * Mixed batch: each adapter's module runs on its own rows only (input and output-so-far restricted to them),
     * rows of adapters not attached here and rows without adapter keep the base output; the row groups are then put
     * back in batch order. Merged adapters would apply to every row, so they are refused.
     */
    private NDArray forwardMixed(NDArray x, NDArray y, RowAdapters rows, ForwardContext ctx) {
        rows.checkBatch(x.getShape().get(0), site.path());
        if (!merged.isEmpty()) {
            throw new IllegalStateException(site.path() + ": adapters " + merged + " are merged into the base "
                    + "weight, so they would apply to every row; unmerge them before running a mixed batch");
        }
        int batch = rows.batchSize();
        List<NDArray> parts = new ArrayList<>();
        long[] order = new long[batch];
        boolean[] covered = new boolean[batch];
        int n = 0;
        for (Map.Entry<String, long[]> e : rows.rowsByAdapter().entrySet()) {
            LinearSiteModule m = adapters.get(e.getKey());
            if (m == null) {
                continue;
            }
            NDIndex idx = new NDIndex("{}", ctx.manager().create(e.getValue()));
            parts.add(m.forward(x.get(idx), y.get(idx), this, ctx));
            for (long r : e.getValue()) {
                order[n++] = r;
                covered[(int) r] = true;
            }
        }
        if (parts.isEmpty()) {
            return y;
        }
        if (n < batch) {
            long[] rest = new long[batch - n];
            for (int r = 0, j = 0; r < batch; r++) {
                if (!covered[r]) {
                    rest[j++] = r;
                    order[n++] = r;
                }
            }
            parts.add(y.get(new NDIndex("{}", ctx.manager().create(rest))));
        }
        long[] inverse = new long[batch];
        for (int j = 0; j < batch; j++) {
            inverse[(int) order[j]] = j;
        }
        NDArray stacked = parts.size() == 1 ? parts.get(0) : NDArrays.concat(new NDList(parts), 0);
        return stacked.get(new NDIndex("{}", ctx.manager().create(inverse)));
    }

    /**
     * The compute weight. For a quantized base, inside {@link #forward} this is the pass's dequantized copy (owned by
     * the pass's manager); outside a forward it is a fresh dequantized copy in the layer's manager, which the caller
     * should close when done.
     */
    @Override
    public NDArray weight() {
        if (quantized == null) {
            return weight;
        }
        return forwardWeight != null ? forwardWeight : quantized.dequantize(manager);
    }

    /** The stored full-precision weight without dequantizing; null when quantized. */
    public NDArray rawWeight() {
        return weight;
    }

    public QuantizedWeight quantizedWeight() {
        return quantized;
    }

    @Override
    public Optional<NDArray> bias() {
        return Optional.ofNullable(bias);
    }

    @Override
    public void setWeight(NDArray w) {
        checkShape(w);
        if (quantized != null) {
            throw new IllegalStateException(site.path() + ": base is quantized; use setQuantizedWeight");
        }
        NDArray old = weight;
        weight = w;
        if (old != null && old != w) {
            old.close();
        }
    }

    /** Replaces the base by a quantized one (the full-precision copy is released). */
    public void setQuantizedWeight(QuantizedWeight q) {
        if (weight != null) {
            weight.close();
            weight = null;
        }
        if (quantized != null) {
            quantized.close();
        }
        quantized = q;
    }

    @Override
    public void setBias(NDArray b) {
        if (bias == null) {
            throw new IllegalStateException(site.path() + " has no bias");
        }
        if (b.getShape().size() != site.outFeatures()) {
            throw new IllegalArgumentException(site.path() + ": bias must have " + site.outFeatures()
                    + " elements, got shape " + b.getShape());
        }
        NDArray old = bias;
        bias = b;
        if (old != b) {
            old.close();
        }
    }

    @Override
    public boolean quantized() {
        return quantized != null;
    }

    public void attach(String adapterName, LinearSiteModule module) {
        if (adapters.containsKey(adapterName)) {
            throw new IllegalStateException(site.path() + ": adapter '" + adapterName + "' is already attached");
        }
        adapters.put(adapterName, module);
    }

    public LinearSiteModule detach(String adapterName) {
        if (merged.contains(adapterName)) {
            throw new IllegalStateException(site.path() + ": unmerge adapter '" + adapterName + "' before removing it");
        }
        return adapters.remove(adapterName);
    }

    public Map<String, LinearSiteModule> adapters() {
        return java.util.Collections.unmodifiableMap(adapters);
    }

    /** Folds the named adapter into the base weight. */
    public void merge(String adapterName) {
        LinearSiteModule m = adapters.get(adapterName);
        if (m == null || merged.contains(adapterName)) {
            return;
        }
        m.merge(this);
        merged.add(adapterName);
    }

    /** Unmerges adapters in reverse merge order up to and including the named one... here: only that one, if last. */
    public void unmergeAll() {
        for (int i = merged.size() - 1; i >= 0; i--) {
            adapters.get(merged.get(i)).unmerge(this);
        }
        merged.clear();
    }

    public List<String> mergedAdapters() {
        return List.copyOf(merged);
    }

    private void checkShape(NDArray w) {
        if (w == null) {
            return;
        }
        long[] s = w.getShape().getShape();
        if (s.length != 2 || s[0] != site.outFeatures() || s[1] != site.inFeatures()) {
            throw new IllegalArgumentException(site.path() + ": weight must be [" + site.outFeatures() + ", "
                    + site.inFeatures() + "], got " + w.getShape());
        }
    }

    /** Convenience for modules: list form used by DJL ops. */
    static NDList list(NDArray... a) {
        return new NDList(a);
    }
}
