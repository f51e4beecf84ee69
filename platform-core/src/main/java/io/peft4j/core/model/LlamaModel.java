package io.peft4j.core.model;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import io.peft4j.api.AttentionKvSiteModule;
import io.peft4j.api.EmbeddingSiteModule;
import io.peft4j.api.ForwardContext;
import io.peft4j.api.LinearSiteModule;
import io.peft4j.api.PlannedQuantization;
import io.peft4j.api.ModelShape;
import io.peft4j.api.SiteInfo;
import io.peft4j.api.SiteKind;
import io.peft4j.api.SiteModule;
import io.peft4j.api.SublayerSiteModule;
import io.peft4j.core.train.loss.CausalLmLoss;
import io.peft4j.core.train.loss.FusedLinearCrossEntropy;
import io.peft4j.core.util.Scalars;
import io.peft4j.core.io.SafetensorsCheckpoint;
import io.peft4j.core.io.SafetensorsException;
import io.peft4j.core.io.TensorEntry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
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
 */
public final class LlamaModel implements CausalLM, AutoCloseable {
    static final String EMBED = "model.embed_tokens";
    static final String LM_HEAD = "lm_head";

    private final LlamaConfig config;
    private final Path directory;
    private final NDManager manager;
    private final NDArray embed;
    private final List<DecoderLayer> layers;
    private final NDArray finalNorm;
    private final AdaptableLinear lmHead;
    private final NDArray tiedLmHeadWeight;   // the view of embed given to lm_head when tied, else null
    private final Map<String, AdaptableLinear> linears;
    private final List<SiteInfo> sites;
    private final SiteHooks hooks;
    private final RotaryEmbedding rope;
    private final AttentionMasks masks;
    private final int nRep;
    private boolean fusedCrossEntropy = true;

    /** The tensors of one decoder layer. */
    static final class DecoderLayer {
        final int index;
        final String attnPath;
        final String mlpPath;
        final NDArray inputNorm;
        final NDArray postNorm;
        final AdaptableLinear q;
        final AdaptableLinear k;
        final AdaptableLinear v;
        final AdaptableLinear o;
        final AdaptableLinear gate;
        final AdaptableLinear up;
        final AdaptableLinear down;

        DecoderLayer(int index, NDArray inputNorm, NDArray postNorm, Map<String, AdaptableLinear> lin) {
            this.index = index;
            this.attnPath = "model.layers." + index + ".self_attn";
            this.mlpPath = "model.layers." + index + ".mlp";
            this.inputNorm = inputNorm;
            this.postNorm = postNorm;
            this.q = lin.get(attnPath + ".q_proj");
            this.k = lin.get(attnPath + ".k_proj");
            this.v = lin.get(attnPath + ".v_proj");
            this.o = lin.get(attnPath + ".o_proj");
            this.gate = lin.get(mlpPath + ".gate_proj");
            this.up = lin.get(mlpPath + ".up_proj");
            this.down = lin.get(mlpPath + ".down_proj");
        }
    }

    private LlamaModel(LlamaConfig config, Path directory, NDManager manager, NDArray embed,
                       List<DecoderLayer> layers, NDArray finalNorm, AdaptableLinear lmHead, NDArray tiedLmHeadWeight,
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
     * @throws ModelLoadException for a missing directory, config or weights, a missing tensor or a wrong shape
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
        if (!Files.isDirectory(dir)) {
            throw new ModelLoadException(dir + ": model directory does not exist");
        }
        Path configFile = dir.resolve("config.json");
        if (!Files.isRegularFile(configFile)) {
            throw new ModelLoadException(dir + ": config.json not found in the model directory");
        }
        LlamaConfig config = LlamaConfig.load(configFile);
        SafetensorsCheckpoint ckpt;
        try {
            ckpt = SafetensorsCheckpoint.open(dir);
        } catch (SafetensorsException e) {
            throw new ModelLoadException(e.getMessage(), e);
        }
        try {
            checkLayerCount(config, ckpt);
        } catch (RuntimeException e) {
            ckpt.close();
            throw e;
        }
        NDManager own = manager.newSubManager();
        try (ckpt) {
            return new Loader(dir, config, new CheckpointTensors(dir, ckpt, copyWeights), own, ckpt, quantized,
                    quantizeOnLoad).build();
        } catch (RuntimeException e) {
            own.close();
            throw e;
        }
    }

    /**
     * Fails unless the weights hold every decoder layer config.json claims (checked from the tensor names, before
     * any per-layer state exists: a claimed size must never drive an allocation).
     *
     * @throws ModelLoadException naming config.json, num_hidden_layers and the weights' source
     */
    public static void checkLayerCount(LlamaConfig config, SafetensorsCheckpoint ckpt) {
        int held = layersHeld(ckpt.names());
        if (config.numHiddenLayers() > held) {
            Path configJson = ckpt.source().toAbsolutePath().getParent().resolve("config.json");
            throw new ModelLoadException(configJson + ": num_hidden_layers = " + config.numHiddenLayers()
                    + " but the weights (" + ckpt.source() + ") hold " + held + " decoder layer"
                    + (held == 1 ? "" : "s") + " (model.layers.0 .. " + (held - 1) + ")");
        }
    }

    /** The number of consecutive decoder layers {@code model.layers.N.*} present from 0. */
    static int layersHeld(java.util.Collection<String> names) {
        java.util.BitSet seen = new java.util.BitSet();
        String prefix = "model.layers.";
        for (String n : names) {
            if (!n.startsWith(prefix)) {
                continue;
            }
            int dot = n.indexOf('.', prefix.length());
            if (dot < 0) {
                continue;
            }
            String num = n.substring(prefix.length(), dot);
            if (num.isEmpty() || num.length() > 9 || !num.chars().allMatch(Character::isDigit)) {
                continue;
            }
            int i = Integer.parseInt(num);
            if (i < names.size()) {   // an index beyond the tensor count cannot be part of a dense run from 0
                seen.set(i);
            }
        }
        return seen.nextClearBit(0);
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
        Objects.requireNonNull(config, "config");
        if (!(std > 0)) {
            throw new IllegalArgumentException("std must be > 0, got " + std);
        }
        ai.djl.engine.Engine.getInstance().setRandomSeed((int) seed);
        NDManager own = manager.newSubManager();
        try {
            return new Loader(null, config, new RandomTensors(own, (float) std), own, null, null, null).build();
        } catch (RuntimeException e) {
            own.close();
            throw e;
        }
    }

    /** Where the loader's tensors come from. */
    private interface TensorSource {
        boolean contains(String name);

        /** The tensor {@code name}, checked to have {@code shape}. */
        NDArray read(String name, long[] shape, NDManager m);

        /**
         * As {@link #read}, as float32 for a weight that is quantized and released right away: a float32 tensor
         * mapped zero-copy, others widened into memory the engine owns and frees on close (nothing left to the
         * garbage collector).
         */
        default NDArray readOwnedFloat32(String name, long[] shape, NDManager m) {
            return read(name, shape, m);
        }
    }

    /** Tensors of a safetensors checkpoint, mapped or copied. */
    private record CheckpointTensors(Path dir, SafetensorsCheckpoint ckpt, boolean copy) implements TensorSource {
        @Override
        public boolean contains(String name) {
            return ckpt.contains(name);
        }

        @Override
        public NDArray read(String name, long[] shape, NDManager m) {
            TensorEntry e = checked(name, shape);
            if (e.dtype() == io.peft4j.core.io.SafetensorsDType.BF16) {
                // Widened per tensor straight into engine memory (no heap copy, no lingering direct buffer).
                return ckpt.readFloat32(name, m);
            }
            return copy ? ckpt.readCopy(name, m) : ckpt.read(name, m);
        }

        @Override
        public NDArray readOwnedFloat32(String name, long[] shape, NDManager m) {
            TensorEntry e = checked(name, shape);
            if (e.dtype() == io.peft4j.core.io.SafetensorsDType.F32) {
                // Already float32: mapped zero-copy (file pages the kernel can reclaim), no anonymous copy at all.
                return ckpt.read(name, m);
            }
            return ckpt.readFloat32(name, m);
        }

        private TensorEntry checked(String name, long[] shape) {
            if (!ckpt.contains(name)) {
                List<String> some = new ArrayList<>();
                for (String n : ckpt.names()) {
                    if (some.size() == 6) {
                        some.add("...");
                        break;
                    }
                    some.add(n);
                }
                throw new ModelLoadException(dir + ": weights lack tensor '" + name + "' (" + ckpt.source()
                        + " holds " + ckpt.names().size() + " tensors, e.g. " + some + ")");
            }
            TensorEntry e = ckpt.entry(name);
            if (!Arrays.equals(e.shape(), shape)) {
                throw new ModelLoadException(dir + ": tensor '" + name + "' in " + ckpt.fileOf(name) + " has shape "
                        + Arrays.toString(e.shape()) + " but config.json implies " + Arrays.toString(shape));
            }
            return e;
        }
    }

    /** HF-style random initialisation (see {@link #random}); biases are created only where the config asks. */
    private record RandomTensors(NDManager m, float std) implements TensorSource {
        @Override
        public boolean contains(String name) {
            return name.equals(LM_HEAD + ".weight");   // no optional biases; lm_head present (untied unless config ties)
        }

        @Override
        public NDArray read(String name, long[] shape, NDManager mgr) {
            Shape s = new Shape(shape);
            if (name.endsWith("layernorm.weight") || name.equals("model.norm.weight")) {
                return mgr.ones(s, DataType.FLOAT32);
            }
            if (name.endsWith(".bias")) {
                return mgr.zeros(s, DataType.FLOAT32);
            }
            return mgr.randomNormal(0f, std, s, DataType.FLOAT32);
        }
    }

    /** Reads tensors, checks names and shapes, builds the modules. */
    private static final class Loader {
        private final Path dir;
        private final LlamaConfig c;
        private final TensorSource ckpt;
        private final NDManager m;
        private final SafetensorsCheckpoint file;        // null for a random model
        private final QuantizedLinearResolver resolver;  // null: quantized linears are an error
        private final PlannedQuantization<?> onLoad;        // null: float linears stay float
        private final Map<String, AdaptableLinear> linears = new LinkedHashMap<>();
        private final List<SiteInfo> sites = new ArrayList<>();

        Loader(Path dir, LlamaConfig c, TensorSource ckpt, NDManager m, SafetensorsCheckpoint file,
               QuantizedLinearResolver resolver, PlannedQuantization<?> onLoad) {
            this.dir = dir;
            this.c = c;
            this.ckpt = ckpt;
            this.m = m;
            this.file = file;
            this.resolver = resolver;
            this.onLoad = onLoad;
        }

        LlamaModel build() {
            int h = c.hiddenSize();
            int qOut = c.numAttentionHeads() * c.headDim();
            int kvOut = c.numKeyValueHeads() * c.headDim();
            int inter = c.intermediateSize();
            NDArray embed = tensor(EMBED + ".weight", c.vocabSize(), h);
            sites.add(new SiteInfo(EMBED, SiteKind.INPUT_EMBEDDING, h, h, -1, false));
            List<DecoderLayer> layers = new ArrayList<>();
            for (int i = 0; i < c.numHiddenLayers(); i++) {
                String p = "model.layers." + i;
                NDArray n1 = tensor(p + ".input_layernorm.weight", h);
                NDArray n2 = tensor(p + ".post_attention_layernorm.weight", h);
                linear(p + ".self_attn.q_proj", h, qOut, i, c.attentionBias());
                linear(p + ".self_attn.k_proj", h, kvOut, i, c.attentionBias());
                linear(p + ".self_attn.v_proj", h, kvOut, i, c.attentionBias());
                linear(p + ".self_attn.o_proj", qOut, h, i, c.attentionBias());
                linear(p + ".mlp.gate_proj", h, inter, i, c.mlpBias());
                linear(p + ".mlp.up_proj", h, inter, i, c.mlpBias());
                linear(p + ".mlp.down_proj", inter, h, i, c.mlpBias());
                sites.add(new SiteInfo(p + ".self_attn", SiteKind.SUBLAYER_OUTPUT, h, h, i, false));
                sites.add(new SiteInfo(p + ".mlp", SiteKind.SUBLAYER_OUTPUT, h, h, i, false));
                sites.add(new SiteInfo(p + ".self_attn", SiteKind.ATTENTION_KV, h, kvOut, i, false));
                layers.add(new DecoderLayer(i, n1, n2, linears));
            }
            NDArray norm = tensor("model.norm.weight", h);
            NDArray tiedView = null;
            AdaptableLinear head;
            SiteInfo headSite = new SiteInfo(LM_HEAD, SiteKind.LINEAR, h, c.vocabSize(), -1, false);
            if (ckpt.contains(LM_HEAD + ".weight") && !c.tieWordEmbeddings()) {
                head = new AdaptableLinear(headSite, m, tensor(LM_HEAD + ".weight", c.vocabSize(), h), null);
            } else {
                // A separate handle on the same storage, so that replacing lm_head's weight never closes the embedding.
                tiedView = embed.get(new NDIndex(":"));
                head = new AdaptableLinear(headSite, m, tiedView, null);
            }
            linears.put(LM_HEAD, head);
            sites.add(headSite);
            return new LlamaModel(c, dir, m, embed, Collections.unmodifiableList(layers), norm, head, tiedView,
                    Collections.unmodifiableMap(linears), Collections.unmodifiableList(sites));
        }

        private void linear(String path, int in, int out, int layer, boolean biasRequired) {
            // Biases come from the weights when present (Qwen2 has q/k/v biases without a config flag).
            NDArray b = biasRequired || ckpt.contains(path + ".bias") ? tensor(path + ".bias", out) : null;
            SiteInfo site = new SiteInfo(path, SiteKind.LINEAR, in, out, layer, b != null);
            String wName = path + ".weight";
            if (file != null && file.contains(wName) && !file.entry(wName).dtype().loadedAs().isFloating()) {
                linears.put(path, quantizedLinear(site, path, b));
            } else if (onLoad != null) {
                // Quantize-on-load: the float copy lives only until its quantized form exists.
                AdaptableLinear l = new AdaptableLinear(site, m, ckpt.readOwnedFloat32(wName, new long[] {out, in}, m),
                        b);
                try {
                    l.quantize(onLoad);
                } catch (IllegalArgumentException e) {
                    throw new ModelLoadException((file == null ? "" : file.fileOf(wName) + ": ") + "'" + wName
                            + "': quantizing with " + onLoad.quantizer().id() + " failed: " + e.getMessage(), e);
                }
                linears.put(path, l);
            } else {
                linears.put(path, new AdaptableLinear(site, m, tensor(wName, out, in), b));
            }
            sites.add(site);
        }

        /** A linear stored quantized: its {@code weight*} tensors go to the resolver, then are released. */
        private AdaptableLinear quantizedLinear(SiteInfo site, String path, NDArray bias) {
            String wName = path + ".weight";
            Path source = file.fileOf(wName);
            if (resolver == null) {
                throw new ModelLoadException(source + ": '" + wName + "' is stored as "
                        + file.entry(wName).dtype() + " (a quantized checkpoint); load it through a run with the "
                        + "quantizer plugin installed (e.g. nf4)");
            }
            Map<String, NDArray> parts = new LinkedHashMap<>();
            try {
                for (String n : file.names()) {
                    if (n.startsWith(wName)) {
                        parts.put(n, file.read(n, m));
                    }
                }
                QuantizedLinearResolver.Resolved r = resolver.resolve(path + ".", parts).orElseThrow(() ->
                        new ModelLoadException(source + ": '" + wName + "' is stored as " + file.entry(wName).dtype()
                                + " with " + parts.keySet() + ", which no installed quantizer recognises"));
                try {
                    return AdaptableLinear.quantized(site, m, r.weight(), r.quantization(), bias);
                } catch (IllegalArgumentException e) {
                    r.weight().close();
                    throw new ModelLoadException(source + ": " + e.getMessage(), e);
                }
            } catch (IllegalArgumentException e) {
                throw new ModelLoadException(source + ": " + e.getMessage(), e);
            } finally {
                parts.values().forEach(NDArray::close);
            }
        }

        private NDArray tensor(String name, long... shape) {
            NDArray a = ckpt.read(name, shape, m);
            if (a.getDataType() != DataType.FLOAT32) {
                NDArray f = a.toType(DataType.FLOAT32, false);
                a.close();
                a = f;
            }
            return a;
        }
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
        Map<String, NDArray> out = new LinkedHashMap<>();
        out.put(EMBED + ".weight", embed);
        for (DecoderLayer l : layers) {
            String p = "model.layers." + l.index;
            out.put(p + ".input_layernorm.weight", l.inputNorm);
            for (AdaptableLinear a : List.of(l.q, l.k, l.v, l.o)) {
                putLinear(out, a, dequantize);
            }
            out.put(p + ".post_attention_layernorm.weight", l.postNorm);
            for (AdaptableLinear a : List.of(l.gate, l.up, l.down)) {
                putLinear(out, a, dequantize);
            }
        }
        out.put("model.norm.weight", finalNorm);
        if (!tiedEmbeddings()) {
            putLinear(out, lmHead, dequantize);
        }
        return out;
    }

    private static void putLinear(Map<String, NDArray> out, AdaptableLinear a, boolean dequantize) {
        if (!a.quantized()) {
            out.put(a.site().path() + ".weight", a.rawWeight());
        } else if (dequantize) {
            out.put(a.site().path() + ".weight", a.weight());
        }
        a.bias().ifPresent(b -> out.put(a.site().path() + ".bias", b));
    }

    /** Number of base parameters (tied weights counted once). */
    public long parameterCount() {
        long n = 0;
        for (Map.Entry<String, NDArray> e : baseTensors(false).entrySet()) {
            n += e.getValue().getShape().size();
        }
        for (AdaptableLinear a : linears.values()) {
            if (a.quantized() && (a != lmHead || !tiedEmbeddings())) {
                n += new Shape(a.quantizedWeight().shape()).size();
            }
        }
        return n;
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
            logits = new Pass(inputIds, attentionMask, cache, ctx).run();
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
     * calls gradient checkpointing): the memory of one layer's activations instead of all.
     * <pre>
     *   x_0 = embed(ids)                                  recorded (prompt tuning / a trainable embedding get grads)
     *   x_{l+1} = layer_l(x_l)                            l = 0..L-1 without autograd; only x_l is kept
     *   loss = lossScale · CE(lm_head(norm(x_L))), backward   g_L = dloss/dx_L
     *   for l = L-1..0: recompute layer_l(x_l) with autograd, backward of sum(layer_l(x_l) * g_{l+1})
     *                                                     = vector-Jacobian product: adds the layer's parameter
     *                                                       gradients and gives g_l = dloss/dx_l
     *   backward of sum(x_0 * g_0)                        only if prompt-tuning modules prepended virtual tokens
     * </pre>
     * The gradients equal those of the plain path up to float rounding; the cost is one extra forward of the decoder
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
        Pass pass = new Pass(inputIds, attentionMask, null, ctx);
        if (!checkpointing) {
            try (NDScope scope = new NDScope()) {
                return headLossBackward(pass, pass.layersOutput(), labels, lossScale, collector);
            } finally {
                pass.releaseMasks();
            }
        }
        int n = layers.size();
        NDArray[] inputs = new NDArray[n + 1];
        int seedBase = ctx.training()
                ? ctx.manager().randomInteger(0, Integer.MAX_VALUE / 2, new Shape(), DataType.INT32).getInt() : -1;
        pass.keepMasks = true;
        try (NDScope outer = new NDScope()) {
            NDArray embedded = pass.embed();
            boolean gradMode = JniUtils.isGradMode();
            JniUtils.setGradMode(false);
            try {
                inputs[0] = embedded.stopGradient();
                for (int i = 0; i < n; i++) {
                    inputs[i + 1] = checkpointLayer(pass, i, inputs[i], ctx, seedBase);
                }
            } finally {
                JniUtils.setGradMode(gradMode);
            }
            float lossValue;
            NDArray grad;
            try (NDScope head = new NDScope()) {
                NDArray top = gradientLeaf(inputs[n]);
                pass.ctx = ctx;
                lossValue = headLossBackward(pass, top, labels, lossScale, collector);
                grad = top.getGradient();
                NDScope.unregister(grad);
            }
            for (int i = n - 1; i >= 0; i--) {
                inputs[i + 1].close();   // the recomputation below rebuilds it with autograd
                try (NDScope layer = new NDScope()) {
                    NDArray in = gradientLeaf(inputs[i]);
                    NDArray out = checkpointLayer(pass, i, in, ctx, seedBase);
                    collector.backward(out.mul(grad).sum());
                    grad.close();
                    grad = in.getGradient();
                    NDScope.unregister(grad);
                }
            }
            if (pass.embeddingModules > 0) {   // prompt tuning: its virtual tokens get their gradient here
                collector.backward(embedded.mul(grad).sum());
            }
            grad.close();
            return lossValue;
        } finally {
            pass.releaseMasks();
        }
    }

    /** Norm, lm_head and the scaled loss over the last layer's output {@code top}, with backward; the loss value. */
    private float headLossBackward(Pass pass, NDArray top, NDArray labels, double lossScale,
                                   GradientCollector collector) {
        NDArray h = pass.hidden(top);
        if (fusedCrossEntropy && plainHead(pass.active)) {
            FusedLinearCrossEntropy.Result r = FusedLinearCrossEntropy.compute(h, lmHead.weight(), labels, lossScale,
                    FusedLinearCrossEntropy.defaultChunkRows(config.vocabSize()));
            collector.backward(h.mul(r.gradHidden()).sum());
            r.gradHidden().close();
            return (float) (r.nllSum() * lossScale);
        }
        return CausalLmLoss.backward(lmHead.forward(h, pass.active, pass.ctx), labels, lossScale, collector);
    }

    /** lm_head is a frozen float projection without bias and without an unmerged active adapter. */
    private boolean plainHead(List<String> active) {
        if (lmHead.quantized() || lmHead.bias().isPresent() || lmHead.rawWeight().hasGradient()) {
            return false;   // the fused path writes no gradient for lm_head's own weight (full fine-tuning)
        }
        for (String name : active) {
            if (lmHead.adapters().containsKey(name) && !lmHead.mergedAdapters().contains(name)) {
                return false;
            }
        }
        return true;
    }

    /** Layer {@code i} in its own scope and forward context, with dropout re-seeded for this layer. */
    private NDArray checkpointLayer(Pass pass, int i, NDArray x, ForwardContext ctx, int seedBase) {
        if (seedBase >= 0) {
            Engine.getInstance().setRandomSeed(seedBase + i);
        }
        // A fresh context per layer: modules may cache per-pass values by context (prefix tuning's projected
        // table), which must be rebuilt in the recomputation, with autograd.
        pass.ctx = ctx.getClass() == PlatformForwardContext.class
                ? new PlatformForwardContext(ctx.training(), ctx.manager()) : ctx;
        NDArray y;
        try (NDScope scope = new NDScope()) {
            y = pass.layer(layers.get(i), x);
            NDScope.unregister(y);
        }
        NDScope.register(y);   // the caller's scope owns the output
        return y;
    }

    /** A view of {@code x} that is a leaf of the autograd graph and collects its gradient. */
    private static NDArray gradientLeaf(NDArray x) {
        NDArray leaf = x.stopGradient();
        leaf.setRequiresGradient(true);
        return leaf;
    }

    /** The state of one forward pass. */
    private final class Pass {
        private final NDArray inputIds;
        private final NDArray attentionMask;
        private final KvCache cache;
        private ForwardContext ctx;         // replaced per layer by a checkpointed pass (see checkpointedBackward)
        private boolean keepMasks;          // masks outlive the per-layer NDScope that builds them
        private int embeddingModules;       // INPUT_EMBEDDING modules applied by embed()
        private final List<String> active = hooks.activeAdapters();
        private final boolean hooksOn;      // non-linear site modules apply (never in a mixed batch)
        private final long batch;
        private final int seq;
        private final int past;
        private int tokens;                 // positions computed in this pass (seq + new virtual tokens)
        private NDArray paddingMask;        // [B,1,1,1,past+tokens] additive, or null without padding
        private RotaryEmbedding.Tables rot;
        private final Map<Integer, NDArray> maskByPrefix = new HashMap<>();

        Pass(NDArray inputIds, NDArray attentionMask, KvCache cache, ForwardContext ctx) {
            this.inputIds = inputIds;
            this.attentionMask = attentionMask;
            this.cache = cache;
            this.ctx = ctx;
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
            for (DecoderLayer layer : layers) {
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
            NDArray x = ids.getNDArrayInternal().embedding(ids, embed, SparseFormat.DENSE).singletonOrThrow();
            int newVirtual = 0;
            if (hooksOn && past == 0) {
                for (EmbeddingSiteModule m : hooks.activeEmbedding(EMBED)) {
                    x = m.prepend(x, ctx);
                    embeddingModules++;
                }
                newVirtual = (int) x.getShape().get(1) - seq;
            }
            tokens = seq + newVirtual;
            int virtualTotal = past == 0 ? newVirtual : cache.virtualTokens();
            if (cache != null) {
                cache.checkRoom(tokens, batch);
            } else if (tokens > config.maxPositionEmbeddings()) {
                throw new IllegalArgumentException("sequence too long: " + tokens
                        + " positions exceed max_position_embeddings = " + config.maxPositionEmbeddings());
            }
            int prefixOffset = hooksOn ? prefixTokens(hooks.activeAttentionKv(layers.get(0).attnPath)) : 0;
            if (prefixOffset > 0 && prefixOffset + past + tokens > config.maxPositionEmbeddings()) {
                // Prefix tokens occupy the first positions (real tokens start at position P), so they count
                // against the context although the cache does not store them.
                throw new IllegalArgumentException("sequence too long: " + prefixOffset + " prefix-tuning virtual "
                        + "tokens + " + (past + tokens) + " positions = " + (prefixOffset + past + tokens)
                        + " exceed max_position_embeddings = " + config.maxPositionEmbeddings()
                        + "; shorten the input or use fewer num_virtual_tokens");
            }
            NDArray fullMask = fullMask(virtualTotal);
            if (fullMask == null) {
                rot = rope.range(prefixOffset + past, tokens);
            } else {
                // Left padding: each row's positions count its real tokens only (as transformers' generate does).
                NDArray pos = fullMask.cumSum(1).sub(1).maximum(0).get(new NDIndex(":, {}:", past));
                if (prefixOffset > 0) {
                    pos = pos.add(prefixOffset);
                }
                rot = rope.gather(pos, prefixOffset + past + tokens);
                paddingMask = AttentionMasks.padding(fullMask);
            }
            return x;
        }

        /** Final norm and lm_head over the last layer's output, without the virtual tokens' positions. */
        NDArray head(NDArray x) {
            return lmHead.forward(hidden(x), active, ctx);
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
            x = rmsNorm(x, finalNorm);
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

        private NDArray layer(DecoderLayer l, NDArray x) {
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
            int nh = config.numAttentionHeads();
            int nkv = config.numKeyValueHeads();
            int hd = config.headDim();
            NDArray q = l.q.forward(h, active, ctx).reshape(batch, tokens, nh, hd).transpose(0, 2, 1, 3);
            NDArray k = l.k.forward(h, active, ctx).reshape(batch, tokens, nkv, hd).transpose(0, 2, 1, 3);
            NDArray v = l.v.forward(h, active, ctx).reshape(batch, tokens, nkv, hd).transpose(0, 2, 1, 3);
            q = rope.apply(q, rot.cosQ(), rot.sinQ());   // includes the 1/sqrt(headDim) score scale
            k = rope.apply(k, rot.cos(), rot.sin());
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
            NDArray scores = q.reshape(batch, nkv, (long) nRep * tokens, hd).matMul(k.transpose(0, 1, 3, 2));
            NDArray mask = mask(prefix, (int) keys);
            if (mask != null) {
                scores = scores.reshape(batch, nkv, nRep, tokens, keys).add(mask);
            }
            NDArray out = scores.softmax(-1).reshape(batch, nkv, (long) nRep * tokens, keys).matMul(v)
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
                NDArray causal = tokens == 1 ? null : masks.causal(tokens, keys);
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
    }

    /** {@code w * x / sqrt(mean(x², -1) + eps)} in float32. */
    private NDArray rmsNorm(NDArray x, NDArray w) {
        int last = x.getShape().dimension() - 1;
        NDArray var = x.square().mean(new int[] {last}, true).add((float) config.rmsNormEps());
        NDArray inv = var.pow(Scalars.of(var, -0.5));   // never pow(Number) under autograd: see Scalars
        return x.mul(inv).mul(w);
    }

    /** Releases every tensor of the model (weights, tables, adapters' base arrays in this manager). */
    @Override
    public void close() {
        rope.release();
        masks.release();
        manager.close();
    }

    /** Concatenation helper kept local to avoid confusion with {@link ai.djl.ndarray.NDArrays} generics. */
    private static final class NDArrays {
        static NDArray concat(NDList list, int axis) {
            return ai.djl.ndarray.NDArrays.concat(list, axis);
        }
    }
}
