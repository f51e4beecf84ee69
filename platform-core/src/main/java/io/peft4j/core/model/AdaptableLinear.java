package io.peft4j.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import io.peft4j.api.BaseWeight;
import io.peft4j.api.ForwardContext;
import io.peft4j.api.LinearBase;
import io.peft4j.api.LinearSiteModule;
import io.peft4j.api.QuantizedWeight;
import io.peft4j.api.PlannedQuantization;
import io.peft4j.api.Quantizer;
import io.peft4j.api.SiteInfo;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

// Longer than the ~400 lines of the rest of core on purpose: the stored (float or quantized) weight, the state of the
// layer call in progress (its dequantized weight, input and base output) and the leases on it are one object's
// mutable state; split across classes they would have to share those fields.
/**
 * A frozen linear layer {@code y = x W^T + b} that adapters attach to. Holds the base weight either in full
 * precision or as a {@link QuantizedWeight}, plus the adapters attached here in attachment order.
 *
 * <p>Forward: {@code base(x)}, then each active, unmerged adapter in the order of the active list, each receiving
 * the output so far (Hugging Face PEFT semantics). In a mixed batch ({@link RowAdapters} in the context) each
 * row gets only its own adapter instead.
 *
 * <p>While the adapters run, the layer remembers the call's input and base output, so that
 * {@link #output}{@code (x)} for that input returns the base output instead of multiplying again (IA3, DoRA).
 *
 * <p>Quantized base (QLoRA, spec §7.5): the layer keeps the {@link Quantizer} and options that produced the weight,
 * so that {@link #setWeight} can re-quantize. A forward pass dequantizes once into the pass's manager, and leases
 * ({@link #weight()}) taken during the pass hand out that copy (owned by the pass). Outside a pass each lease
 * dequantizes a copy and closes it when the lease closes; a merge or unmerge runs as an <em>operation</em> whose
 * copies go to a temporary manager closed when it ends, so even a lease a plugin forgot to close is freed then
 * (and logged: {@link #openWeightLeases()}). Merging into a quantized base is lossy: {@code W' = Q(deq(Q(W)) + ΔW)}
 * - the new statistics (absmax etc.) are those of the merged weight.
 */
public final class AdaptableLinear implements LinearBase {
    private static final Logger LOG = LoggerFactory.getLogger(AdaptableLinear.class);
    private final SiteInfo site;
    private final NDManager manager;
    private NDArray weight;              // [out, in] float32, null when quantized
    private QuantizedWeight quantized;   // non-null when the base is stored quantized
    private NDArray bias;                // [out] or null
    private final Map<String, LinearSiteModule> adapters = new LinkedHashMap<>();
    private final List<String> merged = new ArrayList<>();
    private PlannedQuantization<?> quantization;   // what produced `quantized`, to re-quantize in setWeight
    private NDArray forwardWeight;       // dequantized weight of the forward pass in progress (quantized only)
    private NDArray callInput;           // input of the layer call whose adapters are running
    private NDArray callOutput;          // its base output x W^T + b
    private NDManager opManager;         // temporaries of the merge/unmerge in progress (quantized base only)
    private int openLeases;              // weight leases handed out and not yet closed

    public AdaptableLinear(SiteInfo site, NDManager manager, NDArray weight, NDArray bias) {
        this.site = site;
        this.manager = manager;
        this.weight = weight;
        this.bias = bias;
        checkShape(weight);
    }

    /**
     * A layer whose base weight is already quantized (e.g. loaded from a bitsandbytes checkpoint).
     *
     * @param quantization the quantizer that reads and writes this format, with the options it re-quantizes with
     *                     when the weight is replaced
     */
    public static AdaptableLinear quantized(SiteInfo site, NDManager manager, QuantizedWeight weight,
                                            PlannedQuantization<?> quantization, NDArray bias) {
        long[] s = weight.shape();
        if (s.length != 2 || s[0] != site.outFeatures() || s[1] != site.inFeatures()) {
            throw new IllegalArgumentException(site.path() + ": quantized weight must be [" + site.outFeatures()
                    + ", " + site.inFeatures() + "], got " + java.util.Arrays.toString(s));
        }
        AdaptableLinear l = new AdaptableLinear(site, manager, null, bias);
        l.quantized = weight;
        l.quantization = quantization;
        return l;
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
            NDArray out = y;
            for (String name : active) {
                LinearSiteModule m = adapters.get(name);
                if (m != null && !merged.contains(name)) {
                    callInput = x;
                    callOutput = y;
                    out = m.forward(x, out, this, ctx);
                }
            }
            return out;
        } finally {
            forwardWeight = null;
            callInput = null;
            callOutput = null;
        }
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
        if (rows.lowRankStacks() != null) {
            NDArray stacked = rows.lowRankStacks().forward(this, adapters, x, y, rows, ctx);
            if (stacked != null) {
                return stacked;
            }
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
            callInput = x.get(idx);
            callOutput = y.get(idx);
            parts.add(m.forward(callInput, callOutput, this, ctx));
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
     * A lease on the compute weight. Full precision: the stored weight, nothing to free. Quantized: inside
     * {@link #forward} the pass's dequantized copy (the pass frees it); otherwise a fresh dequantized copy that the
     * lease frees on close (in the operation's manager during {@link #merge}/{@link #unmergeAll}, in the layer's
     * otherwise). Each lease dequantizes the weight as it is then, so one taken after {@link #setWeight} sees the
     * re-quantized weight.
     */
    @Override
    public BaseWeight weight() {
        NDArray w;
        boolean owned;
        if (quantized == null) {
            w = weight;
            owned = false;
        } else if (forwardWeight != null) {
            w = forwardWeight;
            owned = false;
        } else {
            w = quantized.dequantize(opManager != null ? opManager : manager);
            owned = true;
        }
        openLeases++;
        return new Lease(w, owned);
    }

    /** Weight leases handed out and not closed yet (a plugin that forgets to close one shows up here). */
    public int openWeightLeases() {
        return openLeases;
    }

    /** {@code x W^T + b}; for the input of the layer call in progress, the base output computed for it. */
    @Override
    public NDArray output(NDArray x, ForwardContext ctx) {
        if (x == callInput && callOutput != null) {
            return callOutput;
        }
        NDArray w = forwardWeight != null ? forwardWeight : weight;
        if (w != null) {   // the stored or the pass's weight: no lease needed
            return x.getNDArrayInternal().linear(x, w, bias).singletonOrThrow();
        }
        return LinearBase.super.output(x, ctx);
    }

    @Override
    public NDArray project(NDArray x, ForwardContext ctx) {
        NDArray w = forwardWeight != null ? forwardWeight : weight;
        if (w != null) {
            return x.getNDArrayInternal().linear(x, w, null).singletonOrThrow();
        }
        return LinearBase.super.project(x, ctx);
    }

    /**
     * A float32 dequantization of a quantized base in the layer's manager, owned by the caller (for writers that hand
     * it on and free it themselves); fails for a full-precision base, whose weight is {@link #rawWeight()}.
     */
    public NDArray dequantizedCopy() {
        if (quantized == null) {
            throw new IllegalStateException(site.path() + ": base is not quantized; use rawWeight()");
        }
        return quantized.dequantize(manager);
    }

    /** The stored full-precision weight without dequantizing; null when quantized. */
    public NDArray rawWeight() {
        return weight;
    }

    public QuantizedWeight quantizedWeight() {
        return quantized;
    }

    /** The quantizer of a quantized base (null for a full-precision one). */
    public Quantizer<?> quantizer() {
        return quantization == null ? null : quantization.quantizer();
    }

    /** The quantizer and options the base was quantized with (null for a full-precision one). */
    public PlannedQuantization<?> quantization() {
        return quantization;
    }

    /**
     * Quantizes the current full-precision base with {@code q} and replaces it (the float copy is released). The
     * quantizer and options are kept for {@link #setWeight}.
     */
    public void quantize(PlannedQuantization<?> q) {
        if (quantized != null) {
            throw new IllegalStateException(site.path() + ": base is already quantized ("
                    + (quantization == null ? "?" : quantization.quantizer().id()) + ")");
        }
        QuantizedWeight qw = q.quantize(weight);
        setQuantizedWeight(qw);
        quantization = q;
    }

    /**
     * Replaces a quantized base by its float32 dequantization (for full-precision merge and export); a no-op for a
     * full-precision base.
     */
    public void dequantizeBase() {
        if (quantized == null) {
            return;
        }
        NDArray w = quantized.dequantize(manager);
        quantized.close();
        quantized = null;
        quantization = null;
        weight = w;
    }

    @Override
    public Optional<NDArray> bias() {
        return Optional.ofNullable(bias);
    }

    /**
     * Replaces the base weight. For a quantized base, {@code w} is re-quantized with the layer's quantizer and options
     * and then closed (the layer takes ownership of {@code w} in both cases).
     */
    @Override
    public void setWeight(NDArray w) {
        checkShape(w);
        if (quantized != null) {
            if (quantization == null) {
                throw new IllegalStateException(site.path() + ": base is quantized by an unknown quantizer; use "
                        + "setQuantizedWeight");
            }
            // The quantizer allocates the new weight's storage under w's manager: move w to the layer's first.
            w.attach(manager);
            QuantizedWeight q = quantization.quantize(w);
            quantized.close();
            quantized = q;
            w.close();
            return;
        }
        NDArray old = weight;
        weight = w;
        if (old != null && old != w) {
            old.close();
        }
    }

    /**
     * Replaces the base by a quantized one (the full-precision copy is released). The layer keeps the quantizer it
     * had, if any; use {@link #quantize} or {@link #quantized} to set one so that {@link #setWeight} works.
     */
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
        inOperation(adapterName, () -> m.merge(this));
        merged.add(adapterName);
    }

    /**
     * Runs a merge/unmerge step; for a quantized base with a temporary manager that {@link #weight()} dequantizes
     * into, closed afterwards so no dequantized copy outlives the step even if a lease was left open.
     */
    private void inOperation(String adapterName, Runnable r) {
        if (quantized == null || opManager != null) {
            r.run();
            return;
        }
        int before = openLeases;
        try (NDManager tmp = manager.newSubManager()) {
            opManager = tmp;
            r.run();
        } finally {
            opManager = null;
        }
        if (openLeases > before) {
            LOG.warn("{}: adapter '{}' left {} base-weight lease(s) open; freed with the operation", site.path(),
                    adapterName, openLeases - before);
        }
    }

    /** The lease {@link #weight()} hands out: frees the copy if it owns one, and keeps {@link #openLeases}. */
    private final class Lease implements BaseWeight {
        private final NDArray array;
        private final boolean owned;
        private boolean closed;

        Lease(NDArray array, boolean owned) {
            this.array = array;
            this.owned = owned;
        }

        @Override
        public NDArray array() {
            if (closed) {
                throw new IllegalStateException(site.path() + ": base-weight lease used after close");
            }
            return array;
        }

        @Override
        public void close() {
            if (closed) {
                return;
            }
            closed = true;
            openLeases--;
            if (owned && !array.isReleased()) {
                array.close();
            }
        }
    }

    /** Unmerges adapters in reverse merge order up to and including the named one... here: only that one, if last. */
    public void unmergeAll() {
        for (int i = merged.size() - 1; i >= 0; i--) {
            String name = merged.get(i);
            LinearSiteModule m = adapters.get(name);
            inOperation(name, () -> m.unmerge(this));
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
