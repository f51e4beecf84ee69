package io.peft4j.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.training.GradientCollector;
import io.peft4j.api.ForwardContext;
import io.peft4j.api.LinearSiteModule;
import io.peft4j.api.ModelShape;
import io.peft4j.api.PlannedQuantization;
import io.peft4j.api.SiteInfo;
import io.peft4j.api.SiteModule;
import io.peft4j.core.io.SafetensorsCheckpoint;
import io.peft4j.core.model.loss.CausalLmLoss;
import io.peft4j.core.model.loss.FusedLinearCrossEntropy;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A Llama-architecture decoder ({@code llama}, {@code mistral}, {@code qwen2}) loaded from a local Hugging Face
 * directory, computing in float32. Module names are exactly those of transformers' {@code LlamaForCausalLM}.
 *
 * <p>Per layer {@code l}: {@code h = x + o_proj(attn(rope(q_proj(n1)), rope(k_proj(n1)), v_proj(n1)))} with
 * {@code n1 = rmsnorm(x)}, then {@code out = h + down_proj(silu(gate_proj(n2)) * up_proj(n2))} with
 * {@code n2 = rmsnorm(h)}; {@code rmsnorm(x) = w * x / sqrt(mean(x²) + eps)}. Attention is causal with grouped
 * query heads (head {@code h} reads key/value head {@code h / (heads / kvHeads)}), scaled by {@code 1/sqrt(headDim)}.
 * Logits are {@code lm_head(rmsnorm(x_L))}; with tied embeddings lm_head uses the embedding matrix.
 *
 * <p>Adapter hooks (applied for the adapters in {@link SiteHooks#activeAdapters()}, in that order):
 * <ul>
 *   <li>every linear is an {@link AdaptableLinear} (LINEAR sites, lm_head included);</li>
 *   <li>{@code model.embed_tokens} (INPUT_EMBEDDING): modules prepend virtual tokens in the first pass over a
 *       sequence (not in cached decoding steps; the cache keeps them); the attention mask is extended by that many
 *       visible positions and their logits are dropped, so the result still has {@code seq} positions;</li>
 *   <li>{@code model.layers.N.self_attn} / {@code model.layers.N.mlp} (SUBLAYER_OUTPUT): modules replace the
 *       sub-layer output before the residual add, receiving also the normalised sub-layer input;</li>
 *   <li>{@code model.layers.N.self_attn} (ATTENTION_KV): key/value prefixes are prepended after RoPE and before the
 *       grouped-query expansion, always visible; as in Hugging Face PEFT prefix tuning the real tokens' positions are
 *       shifted by the number of prefix tokens (of layer 0).</li>
 * </ul>
 *
 * <p>Memory: every forward pass runs in its own {@link NDScope}; temporaries are closed when it returns. The logits
 * are attached to {@code ctx.manager()} and registered with the caller's NDScope, if one is open. Weights are mapped
 * zero-copy from the safetensors files (read-only memory): never modify them in place, replace them through
 * {@link AdaptableLinear#setWeight} (or load with {@code copyWeights = true}).
 *
 * <p>This class holds the weights and delegates along the seams: {@link LlamaWeightsLoader} (reading the sites of
 * {@link LlamaSiteLayout}), {@link LlamaForward} (one forward pass), {@link LlamaBackward} (the training backward,
 * checkpointed or not, with the fused loss), {@link LlamaExport} (the tensors under their Hugging Face names).
 */
public final class LlamaModel implements CausalLM, AutoCloseable {
    // Read by the seams (LlamaForward, LlamaBackward, LlamaExport) in this package; never reassigned.
    final LlamaConfig config;
    final NDManager manager;
    final NDArray embed;
    final List<DecoderLayer> layers;
    final NDArray finalNorm;
    final AdaptableLinear lmHead;
    final RotaryEmbedding rope;
    final AttentionMasks masks;
    final int nRep;
    private final Path directory;
    private final NDArray tiedLmHeadWeight;   // the view of embed given to lm_head when tied, else null
    private final Map<String, AdaptableLinear> linears;
    private final List<SiteInfo> sites;
    private final SiteHooks hooks;
    private boolean fusedCrossEntropy = true;

    /** Built by {@link LlamaWeightsLoader}; {@code sites} is {@link LlamaSiteLayout#of} of the config. */
    LlamaModel(LlamaConfig config, Path directory, NDManager manager, NDArray embed, List<DecoderLayer> layers,
               NDArray finalNorm, AdaptableLinear lmHead, NDArray tiedLmHeadWeight,
               Map<String, AdaptableLinear> linears, List<SiteInfo> sites) {
        this.config = config;
        this.directory = directory;
        this.manager = manager;
        this.embed = embed;
        this.layers = layers;
        this.finalNorm = finalNorm;
        this.lmHead = lmHead;
        this.tiedLmHeadWeight = tiedLmHeadWeight;
        this.linears = linears;
        this.sites = sites;
        this.hooks = new SiteHooks(sites);
        this.rope = new RotaryEmbedding(config, manager);
        this.masks = new AttentionMasks(manager);
        this.nRep = config.numAttentionHeads() / config.numKeyValueHeads();
    }

    /** Loads a model directory with weights mapped zero-copy (see class doc). */
    public static LlamaModel load(Path dir, NDManager manager) {
        return load(dir, manager, false);
    }

    /**
     * Loads a local Hugging Face model directory ({@code config.json} plus {@code model.safetensors} or a sharded
     * {@code model.safetensors.index.json}).
     *
     * @param manager     parent manager; the model owns a sub-manager of it, released by {@link #close()}
     * @param copyWeights true to copy the weights into fresh memory (so they may be modified in place), false to map
     *                    them read-only
     * @throws ModelLoadException for a missing directory, config or weights, a missing tensor, a wrong shape, or a
     *                            bias tensor on a linear that config.json gives none (see {@link LlamaSiteLayout})
     */
    public static LlamaModel load(Path dir, NDManager manager, boolean copyWeights) {
        return load(dir, manager, copyWeights, null);
    }

    /**
     * As {@link #load(Path, NDManager, boolean)}, also reading linears stored quantized: a linear whose
     * {@code weight} is not a float tensor is handed to {@code quantized} with all its {@code weight*} tensors.
     * Quantized linears are restored one at a time; no float copy of them is made.
     *
     * @param quantized resolver for quantized linears, or null (then a quantized checkpoint fails clearly)
     * @throws ModelLoadException also when a quantized linear is not recognised or its statistics are inconsistent
     *                            (the message names the file and the key)
     */
    public static LlamaModel load(Path dir, NDManager manager, boolean copyWeights,
                                  QuantizedLinearResolver quantized) {
        return load(dir, manager, copyWeights, quantized, null);
    }

    /**
     * As {@link #load(Path, NDManager, boolean, QuantizedLinearResolver)}, quantizing while loading: with
     * {@code quantizeOnLoad}, every float base linear except lm_head is quantized as soon as its weight is read,
     * and its float32 copy is released before the next tensor is read. The model is streamed tensor by tensor
     * (BF16/F16 widened to float32 per tensor in engine-owned memory, see {@link SafetensorsCheckpoint#readFloat32}),
     * so the peak is about the quantized model plus the full-precision embeddings and lm_head plus the largest
     * single tensor - never a float copy of every linear, as quantizing after loading needs.
     *
     * @param quantizeOnLoad the quantizer and its options, or null to keep the linears in full precision
     */
    public static LlamaModel load(Path dir, NDManager manager, boolean copyWeights,
                                  QuantizedLinearResolver quantized, PlannedQuantization<?> quantizeOnLoad) {
        return LlamaWeightsLoader.load(dir, manager, copyWeights, quantized, quantizeOnLoad);
    }

    /**
     * Fails unless the weights hold every decoder layer config.json claims (checked from the tensor names, before
     * any per-layer state exists: a claimed size must never drive an allocation).
     *
     * @throws ModelLoadException naming config.json, num_hidden_layers and the weights' source
     */
    public static void checkLayerCount(LlamaConfig config, SafetensorsCheckpoint ckpt) {
        LlamaWeightsLoader.checkLayerCount(config, ckpt);
    }

    /**
     * A model with random weights and no directory (for benchmarks and tests), initialised as transformers'
     * {@code LlamaPreTrainedModel._init_weights}: every linear weight and the embedding ~ {@code N(0, std²)}
     * (transformers' {@code initializer_range}, 0.02 by default), biases 0, RMSNorm weights 1. Weights are drawn
     * in model order (embedding, then per layer q, k, v, o, gate, up, down, then lm_head) from the engine's
     * generator seeded with {@code seed}, so the same seed gives the same model. lm_head is a separate matrix unless
     * {@code config.tieWordEmbeddings()}. The weights are ordinary writable arrays.
     *
     * @param manager parent manager; the model owns a sub-manager of it, released by {@link #close()}
     * @param std     standard deviation of the weights, &gt; 0
     */
    public static LlamaModel random(LlamaConfig config, NDManager manager, long seed, double std) {
        return LlamaWeightsLoader.random(config, manager, seed, std);
    }

    // ------------------------------------------------------------------------------------------------ accessors

    public LlamaConfig config() {
        return config;
    }

    /** The directory the model was loaded from; null for a {@link #random} model. */
    public Path directory() {
        return directory;
    }

    @Override
    public ModelShape shape() {
        return config.shape();
    }

    @Override
    public NDManager manager() {
        return manager;
    }

    /** Every attachment site, in model order. */
    public List<SiteInfo> sites() {
        return sites;
    }

    /** The linear layer at a path such as {@code model.layers.0.self_attn.q_proj} or {@code lm_head}. */
    public AdaptableLinear linear(String path) {
        AdaptableLinear l = linears.get(path);
        if (l == null) {
            throw new IllegalArgumentException("no linear layer '" + path + "' (e.g. model.layers.0.self_attn.q_proj,"
                    + " model.layers.0.mlp.down_proj, lm_head)");
        }
        return l;
    }

    /** All linear layers by path, in model order. */
    public Map<String, AdaptableLinear> linears() {
        return linears;
    }

    /** The adapter hooks of the non-linear sites and the active adapter list. */
    public SiteHooks hooks() {
        return hooks;
    }

    /** Sets the adapters applied in forward passes, in order (linear and non-linear sites alike). */
    public void setActiveAdapters(List<String> names) {
        hooks.setActiveAdapters(names);
    }

    public List<String> activeAdapters() {
        return hooks.activeAdapters();
    }

    /** Attaches an adapter's module at {@code module.site()}: linear modules to their AdaptableLinear, others to the hooks. */
    public void attach(String adapterName, SiteModule module) {
        if (module instanceof LinearSiteModule lm) {
            linear(module.site().path()).attach(adapterName, lm);
        } else {
            hooks.attach(adapterName, module);
        }
    }

    /** True when lm_head still shares the embedding matrix. */
    public boolean tiedEmbeddings() {
        return tiedLmHeadWeight != null && lmHead.rawWeight() == tiedLmHeadWeight;
    }

    /**
     * The current base tensors under their Hugging Face names (for export). lm_head.weight is left out while it is
     * tied to the embedding. Quantized linears contribute a dequantized copy (attached to the model's manager; close
     * them when done, or use {@link #baseTensors(boolean)} to leave them out).
     */
    public Map<String, NDArray> baseTensors() {
        return baseTensors(true);
    }

    /**
     * As {@link #baseTensors()}; with {@code dequantize = false} the weights of quantized linears are left out
     * (their biases stay), for writing them in their quantized layout.
     */
    public Map<String, NDArray> baseTensors(boolean dequantize) {
        return LlamaExport.baseTensors(this, dequantize);
    }

    /** Number of base parameters (tied weights counted once). */
    public long parameterCount() {
        return LlamaExport.parameterCount(this);
    }

    /** A new empty KV cache sized for this model. */
    public KvCache newCache() {
        return new KvCache(config.numHiddenLayers(), config.maxPositionEmbeddings(), manager);
    }

    // ------------------------------------------------------------------------------------------------ forward

    @Override
    public NDArray forward(NDArray inputIds, NDArray attentionMask, KvCache cache, ForwardContext ctx) {
        Objects.requireNonNull(inputIds, "inputIds");
        if (ctx == null) {
            ctx = PlatformForwardContext.eval(manager);
        }
        if (inputIds.getShape().dimension() != 2) {
            throw new IllegalArgumentException("inputIds must be [batch, seq], got " + inputIds.getShape());
        }
        NDArray logits;
        try (NDScope scope = new NDScope()) {
            logits = new LlamaForward(this, inputIds, attentionMask, cache, ctx).run();
            NDScope.unregister(logits);
        }
        logits.attach(ctx.manager());
        NDScope.register(logits);   // an enclosing scope, if any, owns the result
        return logits;
    }

    /**
     * Use {@link FusedLinearCrossEntropy} for the loss of {@link #causalLmBackward} when lm_head allows it (frozen,
     * no bias, no active adapter on it); on by default. Off: logits, log-softmax and their gradients go through
     * autograd at full size (for comparison and benchmarks).
     */
    public void setFusedCrossEntropy(boolean on) {
        this.fusedCrossEntropy = on;
    }

    /**
     * One training micro-batch: forward, causal-LM cross-entropy ({@link CausalLmLoss}: logits at {@code t} predict
     * the label at {@code t + 1}; labels {@code -100} are not counted) multiplied by {@code lossScale}, and backward;
     * parameter gradients accumulate into the open collector.
     *
     * <p>The lm_head and the loss run fused in row chunks when lm_head is a plain frozen projection (see
     * {@link FusedLinearCrossEntropy}): no {@code [tokens, vocab]} tensor is kept for backward.
     *
     * <p>With {@code checkpointing}, activations are checkpointed at decoder-layer boundaries (what transformers
     * calls gradient checkpointing): the memory of one layer's activations instead of all ({@link LlamaBackward}
     * gives the schedule). The gradients equal those of the plain path up to float rounding; the cost is one extra forward of the decoder
     * layers. Dropout draws the same masks in both passes of a layer because the engine's generator is re-seeded
     * per layer from one number drawn at the start (so the run stays deterministic under the trainer's per-step
     * seed). With a quantized base only one layer's dequantized weights are alive at a time - without
     * checkpointing, autograd keeps every layer's dequantized weight until the backward pass, which is how
     * bitsandbytes-based QLoRA saves memory too (it re-dequantizes in backward).
     *
     * @param labels    {@code [batch, seq]} int64, unshifted
     * @param lossScale factor of the summed negative log-likelihood (e.g. 1 / counted tokens of the step)
     * @return the value of the scaled loss
     */
    @Override
    public float causalLmBackward(NDArray inputIds, NDArray attentionMask, NDArray labels, double lossScale,
                                  ForwardContext ctx, GradientCollector collector, boolean checkpointing) {
        Objects.requireNonNull(ctx, "ctx");
        if (inputIds.getShape().dimension() != 2) {
            throw new IllegalArgumentException("inputIds must be [batch, seq], got " + inputIds.getShape());
        }
        if (ctx instanceof PlatformForwardContext p && p.rowAdapters() != null) {
            throw new IllegalArgumentException("a training pass cannot be a mixed batch");
        }
        return new LlamaBackward(this).run(inputIds, attentionMask, labels, lossScale, ctx, collector, checkpointing,
                fusedCrossEntropy);
    }

    /** Releases every tensor of the model (weights, tables, adapters' base arrays in this manager). */
    @Override
    public void close() {
        rope.release();
        masks.release();
        manager.close();
    }
}
