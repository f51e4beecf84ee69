package io.peft4j.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import io.peft4j.api.AttentionKvSiteModule;
import io.peft4j.api.EmbeddingSiteModule;
import io.peft4j.api.ForwardContext;
import io.peft4j.api.SublayerSiteModule;
import io.peft4j.core.util.Scalars;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The state of one forward pass of a {@link LlamaModel} (the math and the adapter hooks are in its class doc):
 * embeddings with prompt-tuning virtual tokens, positions and masks (causal, left padding, prefix keys), every
 * decoder layer with grouped-query attention over the KV cache, the final norm and lm_head. One instance per pass;
 * {@link LlamaBackward} drives the same pass layer by layer for checkpointed training.
 */
final class LlamaForward {
    private final LlamaModel model;
    private final SiteHooks hooks;
    private final NDArray inputIds;
    private final NDArray attentionMask;
    private final KvCache cache;
    ForwardContext ctx;                 // replaced per layer by a checkpointed pass (see LlamaBackward)
    boolean keepMasks;                  // masks outlive the per-layer NDScope that builds them
    int embeddingModules;               // INPUT_EMBEDDING modules applied by embed()
    final List<String> active;
    private final boolean hooksOn;      // non-linear site modules apply (never in a mixed batch)
    private final long batch;
    private final int seq;
    private final int past;
    private int tokens;                 // positions computed in this pass (seq + new virtual tokens)
    private NDArray paddingMask;        // [B,1,1,1,past+tokens] additive, or null without padding
    private RotaryEmbedding.Tables rot;
    private final Map<Integer, NDArray> maskByPrefix = new HashMap<>();

    LlamaForward(LlamaModel model, NDArray inputIds, NDArray attentionMask, KvCache cache, ForwardContext ctx) {
        this.model = model;
        this.hooks = model.hooks();
        this.inputIds = inputIds;
        this.attentionMask = attentionMask;
        this.cache = cache;
        this.ctx = ctx;
        this.active = hooks.activeAdapters();
        // A mixed batch assigns adapters per row at the linear layers only; PeftModel refuses mixed batches
        // for adapters with non-linear modules, and active non-linear modules must not leak into its rows.
        this.hooksOn = !hooks.isEmpty()
                && !(ctx instanceof PlatformForwardContext p && p.rowAdapters() != null);
        this.batch = inputIds.getShape().get(0);
        this.seq = (int) inputIds.getShape().get(1);
        this.past = cache == null ? 0 : cache.length();
    }

    NDArray run() {
        try {
            return head(layersOutput());
        } finally {
            releaseMasks();
        }
    }

    /** Embeddings and every decoder layer: the input of {@link #hidden}. Call {@link #releaseMasks} after. */
    NDArray layersOutput() {
        keepMasks = true;
        NDArray x = embed();
        for (DecoderLayer layer : model.layers) {
            // Each layer's temporaries are closed when it returns: the DJL handles would otherwise keep every
            // intermediate of every layer alive until the pass ends (medium shape: +220 MB per layer in an
            // eval pass). Under autograd torch still keeps what backward needs.
            try (NDScope perLayer = new NDScope()) {
                x = layer(layer, x);
                NDScope.unregister(x);
            }
            NDScope.register(x);
        }
        return x;
    }

    /** Input embeddings (with virtual tokens prepended); also prepares the positions and masks of the pass. */
    NDArray embed() {
        NDArray ids = inputIds.getDataType() == DataType.INT64 ? inputIds : inputIds.toType(DataType.INT64, false);
        NDArray x = ids.getNDArrayInternal().embedding(ids, model.embed, SparseFormat.DENSE).singletonOrThrow();
        int newVirtual = 0;
        if (hooksOn && past == 0) {
            for (EmbeddingSiteModule m : hooks.activeEmbedding(LlamaSiteLayout.EMBED)) {
                x = m.prepend(x, ctx);
                embeddingModules++;
            }
            newVirtual = (int) x.getShape().get(1) - seq;
        }
        tokens = seq + newVirtual;
        int virtualTotal = past == 0 ? newVirtual : cache.virtualTokens();
        if (cache != null) {
            cache.checkRoom(tokens, batch);
        } else if (tokens > model.config.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("sequence too long: " + tokens
                    + " positions exceed max_position_embeddings = " + model.config.maxPositionEmbeddings());
        }
        int prefixOffset = hooksOn ? prefixTokens(hooks.activeAttentionKv(model.layers.get(0).attnPath)) : 0;
        if (prefixOffset > 0 && prefixOffset + past + tokens > model.config.maxPositionEmbeddings()) {
            // Prefix tokens occupy the first positions (real tokens start at position P), so they count
            // against the context although the cache does not store them.
            throw new IllegalArgumentException("sequence too long: " + prefixOffset + " prefix-tuning virtual "
                    + "tokens + " + (past + tokens) + " positions = " + (prefixOffset + past + tokens)
                    + " exceed max_position_embeddings = " + model.config.maxPositionEmbeddings()
                    + "; shorten the input or use fewer num_virtual_tokens");
        }
        NDArray fullMask = fullMask(virtualTotal);
        if (fullMask == null) {
            rot = model.rope.range(prefixOffset + past, tokens);
        } else {
            // Left padding: each row's positions count its real tokens only (as transformers' generate does).
            NDArray pos = fullMask.cumSum(1).sub(1).maximum(0).get(new NDIndex(":, {}:", past));
            if (prefixOffset > 0) {
                pos = pos.add(prefixOffset);
            }
            rot = model.rope.gather(pos, prefixOffset + past + tokens);
            paddingMask = AttentionMasks.padding(fullMask);
        }
        return x;
    }

    /** Final norm and lm_head over the last layer's output, without the virtual tokens' positions. */
    NDArray head(NDArray x) {
        return model.lmHead.forward(hidden(x), active, ctx);
    }

    /** Final norm over the last layer's output, without the virtual tokens' positions: lm_head's input. */
    NDArray hidden(NDArray x) {
        int newVirtual = tokens - seq;
        if (cache != null) {
            cache.advance(tokens, batch);
            if (past == 0) {
                cache.setVirtualTokens(newVirtual);
            }
        }
        x = rmsNorm(x, model.finalNorm);
        if (newVirtual > 0) {
            x = x.get(new NDIndex(":, {}:", newVirtual));
        }
        return x;
    }

    /** The 0/1 mask over all stored and new positions, or null when nothing is padded. */
    private NDArray fullMask(int virtualTotal) {
        if (attentionMask == null) {
            return null;
        }
        int realPast = past - (past > 0 ? virtualTotal : 0);
        Shape s = attentionMask.getShape();
        if (s.dimension() != 2 || s.get(0) != batch || s.get(1) != realPast + seq) {
            throw new IllegalArgumentException("attentionMask must be [batch=" + batch + ", past+seq=" + realPast
                    + "+" + seq + "], got " + s);
        }
        NDArray m = attentionMask.toType(DataType.INT64, false);
        if (m.min().getLong() != 0) {
            return null;   // all real: the plain causal path gives the same result with fewer ops
        }
        if (virtualTotal > 0) {
            m = m.getManager().ones(new Shape(batch, virtualTotal), DataType.INT64).concat(m, 1);
        }
        return m;
    }

    /** Decoder layer {@code l} over {@code x} (see {@link LlamaModel}'s class doc). */
    NDArray layer(DecoderLayer l, NDArray x) {
        NDArray h = rmsNorm(x, l.inputNorm);
        NDArray a = attention(l, h);
        if (hooksOn) {
            for (SublayerSiteModule m : hooks.activeSublayer(l.attnPath)) {
                a = m.forward(a, h, ctx);
            }
        }
        x = x.add(a);
        NDArray h2 = rmsNorm(x, l.postNorm);
        NDArray g = l.gate.forward(h2, active, ctx);
        NDArray f = l.down.forward(g.mul(g.getNDArrayInternal().sigmoid()).mul(l.up.forward(h2, active, ctx)),
                active, ctx);
        if (hooksOn) {
            for (SublayerSiteModule m : hooks.activeSublayer(l.mlpPath)) {
                f = m.forward(f, h2, ctx);
            }
        }
        return x.add(f);
    }

    private NDArray attention(DecoderLayer l, NDArray h) {
        int nh = model.config.numAttentionHeads();
        int nkv = model.config.numKeyValueHeads();
        int hd = model.config.headDim();
        NDArray q = l.q.forward(h, active, ctx).reshape(batch, tokens, nh, hd).transpose(0, 2, 1, 3);
        NDArray k = l.k.forward(h, active, ctx).reshape(batch, tokens, nkv, hd).transpose(0, 2, 1, 3);
        NDArray v = l.v.forward(h, active, ctx).reshape(batch, tokens, nkv, hd).transpose(0, 2, 1, 3);
        q = model.rope.apply(q, rot.cosQ(), rot.sinQ());   // includes the 1/sqrt(headDim) score scale
        k = model.rope.apply(k, rot.cos(), rot.sin());
        if (cache != null) {
            NDList kv = cache.append(l.index, k, v);
            k = kv.get(0);
            v = kv.get(1);
        }
        int prefix = 0;
        if (hooksOn) {
            List<AttentionKvSiteModule> mods = hooks.activeAttentionKv(l.attnPath);
            if (!mods.isEmpty()) {
                NDList ks = new NDList();
                NDList vs = new NDList();
                for (AttentionKvSiteModule m : mods) {
                    NDList p = m.prefixKeyValues((int) batch, ctx);
                    ks.add(p.get(0));
                    vs.add(p.get(1));
                    prefix += m.numVirtualTokens();
                }
                ks.add(k);
                vs.add(v);
                k = NDArrays.concat(ks, 2);
                v = NDArrays.concat(vs, 2);
            }
        }
        long keys = k.getShape().get(2);
        // Grouped-query attention without copying k/v: query heads of one kv group become extra rows.
        NDArray scores = q.reshape(batch, nkv, (long) model.nRep * tokens, hd).matMul(k.transpose(0, 1, 3, 2));
        NDArray mask = mask(prefix, (int) keys);
        if (mask != null) {
            scores = scores.reshape(batch, nkv, model.nRep, tokens, keys).add(mask);
        }
        NDArray out = scores.softmax(-1).reshape(batch, nkv, (long) model.nRep * tokens, keys).matMul(v)
                .reshape(batch, nh, tokens, hd).transpose(0, 2, 1, 3).reshape(batch, tokens, (long) nh * hd);
        return l.o.forward(out, active, ctx);
    }

    /** Closes the masks kept for the whole pass (see {@link #keepMasks}). */
    void releaseMasks() {
        for (NDArray m : maskByPrefix.values()) {
            if (m != null) {
                m.close();
            }
        }
        maskByPrefix.clear();
    }

    /** Causal plus padding mask for {@code keys} keys of which the first {@code prefix} are always visible. */
    private NDArray mask(int prefix, int keys) {
        if (tokens == 1 && paddingMask == null) {
            return null;   // one query at the end sees every key
        }
        return maskByPrefix.computeIfAbsent(prefix, p -> {
            NDArray causal = tokens == 1 ? null : model.masks.causal(tokens, keys);
            NDArray pad = paddingMask;
            if (pad != null && p > 0) {
                pad = pad.getManager().zeros(new Shape(batch, 1, 1, 1, p)).concat(pad, 4);
            }
            NDArray m = pad == null ? causal : causal == null ? pad : pad.add(causal);
            if (keepMasks && m != null) {
                NDScope.unregister(m);   // built inside one layer's scope, used by every layer
            }
            return m;
        });
    }

    private int prefixTokens(List<AttentionKvSiteModule> mods) {
        int n = 0;
        for (AttentionKvSiteModule m : mods) {
            n += m.numVirtualTokens();
        }
        return n;
    }

    /** {@code w * x / sqrt(mean(x², -1) + eps)} in float32. */
    private NDArray rmsNorm(NDArray x, NDArray w) {
        int last = x.getShape().dimension() - 1;
        NDArray var = x.square().mean(new int[] {last}, true).add((float) model.config.rmsNormEps());
        NDArray inv = var.pow(Scalars.of(var, -0.5));   // never pow(Number) under autograd: see Scalars
        return x.mul(inv).mul(w);
    }
}
