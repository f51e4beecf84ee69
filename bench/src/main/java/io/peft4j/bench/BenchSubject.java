package io.peft4j.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import io.peft4j.api.Adapter;
import io.peft4j.api.AdapterConfig;
import io.peft4j.api.ParamRole;
import io.peft4j.api.Parameter;
import io.peft4j.api.PlannedQuantization;
import io.peft4j.api.Quantizer;
import io.peft4j.api.SiteInfo;
import io.peft4j.core.model.AdaptableLinear;
import io.peft4j.core.model.LlamaConfig;
import io.peft4j.core.model.LlamaModel;
import io.peft4j.core.peft.AdapterConfigCodec;
import io.peft4j.core.peft.LlamaAdapterHost;
import io.peft4j.core.peft.PeftModel;
import io.peft4j.core.quant.BaseQuantization;
import io.peft4j.core.plugin.PluginRuntime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * What one bench case measures: the model (random weights of a {@link BenchShape}, or a model directory), the LoRA
 * adapter {@value #ADAPTER} attached through the plugin runtime (not for {@link BenchMode#FULL}), the trainable
 * parameters with gradients on, the parameter counts of the FLOP model, and a few random token batches
 * ({@code [B, T]} int64, uniform over the vocabulary; they are also the labels, as in the peer).
 */
final class BenchSubject implements AutoCloseable {
    static final String ADAPTER = "bench";
    /** Number of distinct batches cycled through (the peer's {@code nb}). */
    static final int BATCHES = 4;

    final BenchCase benchCase;
    final LlamaModel model;
    final PeftModel peft;            // null in FULL mode
    final List<Parameter> trainable;
    final int batch;
    final int seq;
    final long nEmbed;
    final long nLmHead;
    final long nLinearLayers;
    final long nTotal;
    final long nLora;
    final List<NDArray> batches = new ArrayList<>();
    private final NDManager dataManager;

    /**
     * How a model directory was loaded: wall seconds of {@link LlamaModel#load}, VmHWM right after it, and whether
     * the base was quantized while loading, and whether VmHWM was reset after it (so later peaks exclude the load;
     * NaN / false for random shapes).
     */
    record Load(double seconds, double rssPeakMib, boolean quantizedOnLoad, boolean peakReset) {
    }

    final Load load;

    private BenchSubject(BenchCase c, LlamaModel model, PeftModel peft, List<Parameter> trainable, int batch, int seq,
                         long seed, Load load) {
        this.benchCase = c;
        this.load = load;
        this.model = model;
        this.peft = peft;
        this.trainable = trainable;
        this.batch = batch;
        this.seq = seq;
        LlamaConfig cfg = model.config();
        this.nEmbed = (long) cfg.vocabSize() * cfg.hiddenSize();
        long layers = 0;
        long head = 0;
        for (AdaptableLinear l : model.linears().values()) {
            SiteInfo s = l.site();
            long n = (long) s.inFeatures() * s.outFeatures();
            if (s.path().equals("lm_head")) {
                head = n;
            } else {
                layers += n;
            }
        }
        this.nLmHead = head;
        this.nLinearLayers = layers;
        this.nTotal = model.parameterCount();
        this.nLora = peft == null ? 0 : trainable.stream().mapToLong(p -> p.value().getShape().size()).sum();
        this.dataManager = model.manager().newSubManager();
        Random r = new Random(seed + 1);
        for (int i = 0; i < BATCHES; i++) {
            long[] ids = new long[batch * seq];
            for (int j = 0; j < ids.length; j++) {
                ids[j] = r.nextInt(cfg.vocabSize());
            }
            batches.add(dataManager.create(ids, new Shape(batch, seq)));
        }
    }

    /**
     * Builds the subject of {@code c}. The engine seed is {@code seed} for the weights and the adapter init.
     *
     * @param runtime the started plugin runtime (needed unless the mode is FULL)
     */
    static BenchSubject create(BenchCase c, BenchOptions o, NDManager root, PluginRuntime runtime) {
        LlamaModel model;
        int batch;
        int seq;
        double loadSeconds = Double.NaN;
        double loadRssPeakMib = Double.NaN;
        boolean quantizedOnLoad = false;
        boolean peakReset = false;
        if (c.shape() != null) {
            model = LlamaModel.random(c.shape().config(), root, o.seed(), 0.02);
            batch = o.batch() > 0 ? o.batch() : c.shape().batch;
            seq = o.seq() > 0 ? o.seq() : c.shape().seq;
        } else {
            // FULL updates the base weights in place: they must not be read-only mapped file memory.
            // QLoRA on a model directory quantizes while loading (LoRA's init does not read the base weights), so
            // load time and peak RSS are those of the streaming loader.
            PlannedQuantization<?> onLoad = o.baseQuant() == null || c.mode() == BenchMode.FULL ? null
                    : quantizer(o, runtime);
            long t0 = System.nanoTime();
            model = LlamaModel.load(c.modelDir(), root, c.mode() == BenchMode.FULL, null, onLoad);
            loadSeconds = (System.nanoTime() - t0) / 1e9;
            loadRssPeakMib = SystemProbe.rssPeakMib();
            peakReset = SystemProbe.resetRssPeak();   // later peaks then cover the run, not the load
            quantizedOnLoad = onLoad != null;
            batch = o.batch() > 0 ? o.batch() : 8;
            seq = o.seq() > 0 ? o.seq() : Math.min(256, model.config().maxPositionEmbeddings());
        }
        model.setFusedCrossEntropy(o.fusedLoss());
        if (seq > model.config().maxPositionEmbeddings()) {
            model.close();
            throw new IllegalArgumentException("seq " + seq + " exceeds max_position_embeddings "
                    + model.config().maxPositionEmbeddings() + " of " + c.sizeLabel());
        }
        try {
            PeftModel peft = null;
            List<Parameter> trainable;
            if (c.mode() == BenchMode.FULL) {
                trainable = new ArrayList<>();
                for (Map.Entry<String, NDArray> e : model.baseTensors().entrySet()) {
                    ParamRole role = e.getKey().endsWith("norm.weight") ? ParamRole.NORM : ParamRole.DENSE;
                    trainable.add(new Parameter(e.getKey(), e.getValue(), role, true));
                }
            } else {
                if (runtime == null) {
                    throw new IllegalStateException("mode " + c.mode().id() + " needs the plugin runtime");
                }
                Adapter lora = runtime.extensions().requireAdapter("lora");
                Object targets = c.targets().equals("all") ? "all-linear" : List.of("q_proj", "v_proj");
                AdapterConfig cfg = AdapterConfigCodec.parseStrict(lora,
                        Map.of("r", o.rank(), "lora_alpha", o.alpha(), "target_modules", targets), "bench");
                peft = new PeftModel(new LlamaAdapterHost(model, null), runtime.extensions()::initializerFor);
                peft.addAdapter(ADAPTER, lora, cfg, o.seed());
                peft.setActive(List.of(ADAPTER));
                trainable = peft.trainableParameters();
                if (o.baseQuant() != null && !quantizedOnLoad) {
                    // QLoRA on a random shape: the adapter is created on the full-precision base, then the base is
                    // quantized.
                    BaseQuantization.quantize(model, quantizer(o, runtime));
                }
            }
            for (Parameter p : trainable) {
                p.value().setRequiresGradient(true);
            }
            return new BenchSubject(c, model, peft, List.copyOf(trainable), batch, seq, o.seed(),
                    new Load(loadSeconds, loadRssPeakMib, quantizedOnLoad, peakReset));
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /** The {@code --quant} quantizer with its default options. */
    private static PlannedQuantization<?> quantizer(BenchOptions o, PluginRuntime runtime) {
        if (runtime == null) {
            throw new IllegalStateException("--quant needs the plugin runtime");
        }
        Quantizer<?> q = runtime.extensions().quantizer(o.baseQuant()).orElseThrow(() -> new IllegalArgumentException(
                "--quant " + o.baseQuant() + ": no installed quantizer with that id; installed: "
                + runtime.extensions().quantizers().keySet()));
        return io.peft4j.core.plugin.Configured.quantization(q, Map.of(), "--quant");
    }

    long tokens() {
        return (long) batch * seq;
    }

    /** Base linear weights including lm_head ({@code N} of the FLOP model). */
    long nLinear() {
        return nLinearLayers + nLmHead;
    }

    double attentionFlops() {
        LlamaConfig cfg = model.config();
        return FlopCount.attention(batch, seq, cfg.hiddenSize(), cfg.numHiddenLayers());
    }

    long trainableCount() {
        return trainable.stream().mapToLong(p -> p.value().getShape().size()).sum();
    }

    /** Replaces every LoRA up-projection (zero at init) by N(0, 0.02²) so the adapter changes the output. */
    void randomizeUpProjections() {
        // In-place writes into leaves that require grad are only allowed with torch grad mode off.
        boolean gradMode = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try {
            for (Parameter p : trainable) {
                if (p.role() == ParamRole.UP) {
                    try (NDArray r = dataManager.randomNormal(0f, 0.02f, p.value().getShape(),
                            p.value().getDataType())) {
                        // NDIndex(":") (not an empty index: torch rejects an empty index_put_ list)
                        p.value().set(new NDIndex(":"), r);
                    }
                }
            }
        } finally {
            JniUtils.setGradMode(gradMode);
        }
    }

    @Override
    public void close() {
        dataManager.close();
        model.close();
    }
}
