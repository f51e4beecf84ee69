package io.peft4j.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.PlannedQuantization;
import io.peft4j.api.SiteInfo;
import io.peft4j.api.SiteKind;
import io.peft4j.core.io.SafetensorsCheckpoint;
import io.peft4j.core.io.SafetensorsDType;
import io.peft4j.core.io.SafetensorsException;
import io.peft4j.core.io.TensorEntry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Builds a {@link LlamaModel} from a Hugging Face directory (or from random weights): reads exactly the tensors of
 * the sites {@link LlamaSiteLayout} lists, plus the norms, checking every name and shape against config.json.
 * Tensors are streamed one at a time from {@code model.safetensors} or a sharded index; BF16/F16 are widened to
 * float32 per tensor in engine-owned memory; linears stored quantized go to a {@link QuantizedLinearResolver};
 * with quantize-on-load each float linear (lm_head excepted) is quantized as soon as it is read. lm_head shares the
 * embedding's storage when the config ties them or the weights hold no {@code lm_head.weight}.
 */
final class LlamaWeightsLoader {
    private final Path dir;                          // null for a random model
    private final LlamaConfig c;
    private final TensorSource ckpt;
    private final NDManager m;
    private final SafetensorsCheckpoint file;        // null for a random model
    private final QuantizedLinearResolver resolver;  // null: quantized linears are an error
    private final PlannedQuantization<?> onLoad;        // null: float linears stay float
    private final Map<String, AdaptableLinear> linears = new LinkedHashMap<>();

    private LlamaWeightsLoader(Path dir, LlamaConfig c, TensorSource ckpt, NDManager m, SafetensorsCheckpoint file,
                               QuantizedLinearResolver resolver, PlannedQuantization<?> onLoad) {
        this.dir = dir;
        this.c = c;
        this.ckpt = ckpt;
        this.m = m;
        this.file = file;
        this.resolver = resolver;
        this.onLoad = onLoad;
    }

    /** See {@link LlamaModel#load(Path, NDManager, boolean, QuantizedLinearResolver, PlannedQuantization)}. */
    static LlamaModel load(Path dir, NDManager manager, boolean copyWeights, QuantizedLinearResolver quantized,
                           PlannedQuantization<?> quantizeOnLoad) {
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
            return new LlamaWeightsLoader(dir, config, new CheckpointTensors(dir, ckpt, copyWeights), own, ckpt,
                    quantized, quantizeOnLoad).build();
        } catch (RuntimeException e) {
            own.close();
            throw e;
        }
    }

    /** See {@link LlamaModel#random}. */
    static LlamaModel random(LlamaConfig config, NDManager manager, long seed, double std) {
        Objects.requireNonNull(config, "config");
        if (!(std > 0)) {
            throw new IllegalArgumentException("std must be > 0, got " + std);
        }
        ai.djl.engine.Engine.getInstance().setRandomSeed((int) seed);
        NDManager own = manager.newSubManager();
        try {
            return new LlamaWeightsLoader(null, config, new RandomTensors((float) std), own, null, null, null)
                    .build();
        } catch (RuntimeException e) {
            own.close();
            throw e;
        }
    }

    /** See {@link LlamaModel#checkLayerCount}. */
    static void checkLayerCount(LlamaConfig config, SafetensorsCheckpoint ckpt) {
        int held = layersHeld(ckpt.names());
        if (config.numHiddenLayers() > held) {
            Path configJson = ckpt.source().toAbsolutePath().getParent().resolve("config.json");
            throw new ModelLoadException(configJson + ": num_hidden_layers = " + config.numHiddenLayers()
                    + " but the weights (" + ckpt.source() + ") hold " + held + " decoder layer"
                    + (held == 1 ? "" : "s") + " (model.layers.0 .. " + (held - 1) + ")");
        }
    }

    /** The number of consecutive decoder layers {@code model.layers.N.*} present from 0. */
    static int layersHeld(Collection<String> names) {
        BitSet seen = new BitSet();
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
     * Reads the sites' tensors in the layout's order (embedding; per layer the two norms, then q, k, v, o, gate,
     * up, down; the final norm; lm_head), which is also the order a random model draws its weights in.
     */
    private LlamaModel build() {
        List<SiteInfo> sites = LlamaSiteLayout.of(c);
        int h = c.hiddenSize();
        NDArray embed = null;
        NDArray[] inputNorms = new NDArray[c.numHiddenLayers()];
        NDArray[] postNorms = new NDArray[c.numHiddenLayers()];
        SiteInfo headSite = null;
        for (SiteInfo s : sites) {
            int i = s.layerIndex();
            if (i >= 0 && inputNorms[i] == null) {
                inputNorms[i] = tensor(LlamaSiteLayout.layer(i) + ".input_layernorm.weight", h);
                postNorms[i] = tensor(LlamaSiteLayout.layer(i) + ".post_attention_layernorm.weight", h);
            }
            if (s.kind() == SiteKind.INPUT_EMBEDDING) {
                embed = tensor(s.path() + ".weight", c.vocabSize(), h);
            } else if (s.kind() == SiteKind.LINEAR && s.path().equals(LlamaSiteLayout.LM_HEAD)) {
                headSite = s;
            } else if (s.kind() == SiteKind.LINEAR) {
                linear(s);
            }   // SUBLAYER_OUTPUT and ATTENTION_KV sites hold no base tensor
        }
        List<DecoderLayer> layers = new ArrayList<>();
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            layers.add(new DecoderLayer(i, inputNorms[i], postNorms[i], linears));
        }
        NDArray norm = tensor("model.norm.weight", h);
        NDArray tiedView = null;
        AdaptableLinear head;
        String headName = LlamaSiteLayout.LM_HEAD + ".weight";
        if (ckpt.contains(headName) && !c.tieWordEmbeddings()) {
            head = new AdaptableLinear(headSite, m, tensor(headName, c.vocabSize(), h), null);
        } else {
            // A separate handle on the same storage, so that replacing lm_head's weight never closes the embedding.
            tiedView = embed.get(new NDIndex(":"));
            head = new AdaptableLinear(headSite, m, tiedView, null);
        }
        linears.put(LlamaSiteLayout.LM_HEAD, head);
        return new LlamaModel(c, dir, m, embed, Collections.unmodifiableList(layers), norm, head, tiedView,
                Collections.unmodifiableMap(linears), Collections.unmodifiableList(sites));
    }

    /** The linear of {@code site}: stored quantized, quantized now, or float; its bias exactly when the site has one. */
    private void linear(SiteInfo site) {
        String path = site.path();
        int in = site.inFeatures();
        int out = site.outFeatures();
        String bName = path + ".bias";
        if (!site.hasBias() && ckpt.contains(bName)) {
            throw new ModelLoadException((file == null ? dir : file.fileOf(bName)) + ": weights hold '" + bName
                    + "' but config.json (model_type " + c.modelType() + ", attention_bias = " + c.attentionBias()
                    + ", mlp_bias = " + c.mlpBias() + ") implies no bias for " + path);
        }
        NDArray b = site.hasBias() ? tensor(bName, out) : null;
        String wName = path + ".weight";
        if (file != null && file.contains(wName) && !file.entry(wName).dtype().loadedAs().isFloating()) {
            linears.put(path, quantizedLinear(site, path, b));
        } else if (onLoad != null) {
            // Quantize-on-load: the float copy lives only until its quantized form exists.
            AdaptableLinear l = new AdaptableLinear(site, m, ckpt.readOwnedFloat32(wName, new long[] {out, in}, m), b);
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
            if (e.dtype() == SafetensorsDType.BF16) {
                // Widened per tensor straight into engine memory (no heap copy, no lingering direct buffer).
                return ckpt.readFloat32(name, m);
            }
            return copy ? ckpt.readCopy(name, m) : ckpt.read(name, m);
        }

        @Override
        public NDArray readOwnedFloat32(String name, long[] shape, NDManager m) {
            TensorEntry e = checked(name, shape);
            if (e.dtype() == SafetensorsDType.F32) {
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

    /** HF-style random initialisation (see {@link LlamaModel#random}); biases (zero) exactly where the layout has them. */
    private record RandomTensors(float std) implements TensorSource {
        @Override
        public boolean contains(String name) {
            return name.equals(LlamaSiteLayout.LM_HEAD + ".weight");   // lm_head present (untied unless config ties)
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
}
