package io.peft4j.core.run;

import ai.djl.ndarray.NDManager;
import io.peft4j.api.ConfigException;
import io.peft4j.api.OptimizerSettings;
import io.peft4j.api.ParamGroup;
import io.peft4j.api.Parameter;
import io.peft4j.api.PlannedQuantization;
import io.peft4j.api.RankAllocator;
import io.peft4j.api.SiteInfo;
import io.peft4j.api.SiteKind;
import io.peft4j.core.config.RunConfig;
import io.peft4j.core.model.AdaptableLinear;
import io.peft4j.core.model.GenerationOptions;
import io.peft4j.core.model.Generator;
import io.peft4j.core.model.LlamaModel;
import io.peft4j.core.model.QuantizedLinearResolver;
import io.peft4j.core.model.TextTokenizer;
import io.peft4j.core.peft.AdapterFiles;
import io.peft4j.core.peft.LlamaAdapterHost;
import io.peft4j.core.peft.PeftModel;
import io.peft4j.core.plugin.Configured;
import io.peft4j.core.plugin.InstalledExtensions;
import io.peft4j.core.quant.BaseQuantization;
import io.peft4j.core.quant.MergeReport;
import io.peft4j.core.quant.QuantizedExport;
import io.peft4j.core.prune.Pruner;
import io.peft4j.core.prune.PruningMasks;
import io.peft4j.core.prune.SparsityReport;
import io.peft4j.core.train.EvalResult;
import io.peft4j.core.train.MicroBatchBackward;
import io.peft4j.core.train.Trainer;
import io.peft4j.core.train.TrainingConfig;
import io.peft4j.core.train.TrainingResult;
import io.peft4j.core.train.data.DataLoader;
import io.peft4j.core.train.data.DataOptions;
import io.peft4j.core.train.data.DatasetSplit;
import io.peft4j.core.train.data.Example;
import io.peft4j.core.train.data.DataSpec;
import io.peft4j.core.train.data.Datasets;
import io.peft4j.core.train.data.Tokenization;
import io.peft4j.core.train.optim.LrSchedule;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A loaded run: base model, tokenizer and adapters as a {@link RunPlan} declares them. The Java API for embedding
 * peft4j in applications: {@link #open}, then {@link #train}, {@link #evaluate}, {@link #generate},
 * {@link #saveAdapters}; close to free native memory.
 */
public final class TuningSession implements AutoCloseable {
    /** Token id used for padding; every padded position is masked out of attention and loss. */
    private static final long PAD_ID = RunData.PAD_ID;

    private final RunPlan plan;
    private final InstalledExtensions ext;
    private final NDManager manager;
    private final LlamaModel model;
    private final TextTokenizer tokenizer;
    private final PeftModel peft;
    private PruningMasks masks;

    private TuningSession(RunPlan plan, InstalledExtensions ext, NDManager manager, LlamaModel model,
                          TextTokenizer tokenizer, PeftModel peft, PruningMasks masks) {
        this.plan = plan;
        this.ext = ext;
        this.manager = manager;
        this.model = model;
        this.tokenizer = tokenizer;
        this.peft = peft;
        this.masks = masks;
    }

    /**
     * Loads the model and tokenizer, prunes the base if the plan asks for it, creates and initialises the planned adapters (initializers such as PiSSA see
     * the full-precision weights), then quantizes the base linears if the plan asks for it, and activates every
     * adapter.
     */
    public static TuningSession open(RunPlan plan, InstalledExtensions ext) {
        NDManager manager = NDManager.newBaseManager();
        try {
            // Linears stored quantized (a bitsandbytes NF4 checkpoint, say) are read by the installed quantizers.
            // QLoRA as bitsandbytes does it: each base linear is quantized as soon as it is read, so no float copy
            // of the whole model ever exists - unless something must see the full-precision base first (pruning,
            // an initializer plugin such as PiSSA or LoftQ); then the base is quantized after the adapters exist.
            PlannedQuantization<?> planned = plan.quantization();
            boolean onLoad = planned != null && !needsFullPrecisionBase(plan, ext);
            LlamaModel model = LlamaModel.load(plan.modelDir(), manager, false, quantizedLinears(plan, ext),
                    onLoad ? planned : null);
            TextTokenizer tokenizer = TextTokenizer.load(plan.modelDir().resolve("tokenizer.json"));
            PeftModel peft = new PeftModel(new LlamaAdapterHost(model, tokenizer), ext::initializerFor);
            // Prune-then-PEFT: the adapters (and initializers such as PiSSA) see the pruned base.
            PruningMasks masks = plan.config().pruning() == null ? null
                    : Pruner.prune(model, plan.config().pruning());
            // The PiSSA -> LoRA conversion at save time needs the factors as they were right after initialisation.
            peft.captureInitialFactors(plan.config().output().convertToLora());
            if (planned != null) {
                peft.setPlannedQuantization(planned);
            }
            long seed = plan.config().training().seed();
            List<String> names = new ArrayList<>();
            for (RunPlan.PlannedAdapter a : plan.adapters()) {
                peft.addAdapter(a.name(), a.method(), a.config(), seed);
                names.add(a.name());
            }
            if (planned != null && !onLoad) {
                // Layer by layer: each mapped float weight is released once its quantized form exists.
                BaseQuantization.quantize(model, planned);
            }
            peft.setActive(names);
            return new TuningSession(plan, ext, manager, model, tokenizer, peft, masks);
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /**
     * Whether the base must be in full precision while the adapters are created: pruning reads and rewrites it, and
     * initializer plugins (PiSSA, MiLoRA, LoftQ) decompose the float weights. Plain LoRA-style inits do not (DoRA's
     * magnitude then comes from the dequantized weight, as in PEFT on a bitsandbytes-quantized model).
     */
    static boolean needsFullPrecisionBase(RunPlan plan, InstalledExtensions ext) {
        if (plan.config().pruning() != null) {
            return true;
        }
        for (RunPlan.PlannedAdapter a : plan.adapters()) {
            Object init = io.peft4j.core.peft.AdapterConfigCodec.toPeftJson(a.method(), a.config(), null)
                    .get("init_lora_weights");
            if (init instanceof String name && ext.initializerFor(name.toLowerCase(java.util.Locale.ROOT)).isPresent()) {
                return true;
            }
        }
        return false;
    }

    /** A resolver over every installed quantizer, re-quantizing with the options the model's config.json records. */
    static QuantizedLinearResolver quantizedLinears(RunPlan plan, InstalledExtensions ext) {
        Path configJson = plan.modelDir().resolve("config.json");
        return QuantizedLinearResolver.of(ext.quantizers().values(),
                q -> Configured.savedQuantization(q, QuantizedExport.optionsFor(configJson, q.id()),
                        configJson + ": " + QuantizedExport.PEFT4J_KEY + ".options"));
    }

    /**
     * Merges the named adapters into the base (see {@link BaseQuantization#mergeAndReport}) and reports the logit
     * change on a probe sentence; on a quantized base this is the error re-quantization introduced.
     */
    public MergeReport mergeAndReport(List<String> names) {
        return BaseQuantization.mergeAndReport(peft, model, names, probe());
    }

    /** A short probe sequence for before/after comparisons: a fixed sentence, tokenized with a BOS. */
    public long[] probe() {
        return tokenizer.encode("Once upon a time, there was a little girl who liked to play in the park.", true);
    }

    public LlamaModel model() {
        return model;
    }

    public TextTokenizer tokenizer() {
        return tokenizer;
    }

    public PeftModel peft() {
        return peft;
    }

    public RunPlan plan() {
        return plan;
    }

    /**
     * Result of {@link #train}.
     *
     * @param evalBefore eval of the model before training, or null without eval data
     * @param evalAfter  eval of the saved adapter (the best eval's with {@code load_best_at_end}), or null without
     *                   eval data
     */
    public record Outcome(EvalResult evalBefore, EvalResult evalAfter, TrainingResult training, Path adapterDir,
                          double tokensPerSecond) {
    }

    /** Whether the plan has eval data ({@code data.eval}, or {@code data.eval_fraction > 0}). */
    public boolean hasEvalData() {
        return plan.evalData() != null || plan.config().data().evalFraction() > 0;
    }

    /**
     * Trains the active adapters as the plan's training section says, evaluating before and after when there is
     * eval data (without, both are skipped and null), and saves the adapters (PEFT format) to
     * {@code <output.dir>/adapter}: with {@code load_best_at_end} (on by default with eval data) those of the eval
     * with the lowest loss.
     */
    public Outcome train() {
        return train(null);
    }

    /**
     * {@link #train()} with each step's gradients produced by {@code source} (for example by Spark executors, each
     * running {@link #microBatchBackward()} on a replica of this session) instead of this process; null: here.
     */
    public Outcome train(Trainer.GradientSource source) {
        RunConfig cfg = plan.config();
        if (plan.trainData() == null) {
            throw new ConfigException("data.train", "required for training: a JSONL file with {\"text\": ...} or "
                    + "{\"prompt\": ..., \"completion\": ...} per line");
        }
        Path out = Path.of(cfg.output().dir());
        try (Trainer trainer = buildTrainer(out, true, source)) {
            EvalResult before = trainer.hasEvalData() ? trainer.evaluate() : null;
            long t0 = System.nanoTime();
            TrainingResult result = trainer.train();
            double secs = (System.nanoTime() - t0) / 1e9;
            EvalResult after = trainer.hasEvalData() ? trainer.evaluate() : null;
            Path adapterDir = out.resolve("adapter");
            saveAdapters(adapterDir);
            if (masks != null) {
                writeSparsity(out.resolve("sparsity.json"), sparsity());
            }
            long tokens = (long) result.steps() * cfg.training().batchSize() * cfg.training().gradAccumulation()
                    * cfg.training().maxSeqLen();
            return new Outcome(before, after, result, adapterDir, tokens / Math.max(secs, 1e-9));
        } catch (IOException e) {
            throw new UncheckedIOException("training output in " + out + ": " + e.getMessage(), e);
        }
    }

    /** Eval loss and perplexity of the current model (active adapters) on the plan's eval data. */
    public EvalResult evaluate() {
        Path out = Path.of(plan.config().output().dir());
        try (Trainer trainer = buildTrainer(out, false, null)) {
            if (!trainer.hasEvalData()) {
                throw new ConfigException("data.eval", "no eval data: set data.eval to a JSONL file, or "
                        + "data.eval_fraction > 0 to hold out part of data.train");
            }
            return trainer.evaluate();
        }
    }

    /** The trainer of this plan; with {@code allocate}, rank allocators (AdaLoRA) run after each optimizer step. */
    private Trainer buildTrainer(Path out, boolean allocate, Trainer.GradientSource source) {
        RunConfig cfg = plan.config();
        RunConfig.TrainingSection t = cfg.training();
        DataOptions opts = RunData.options(cfg, tokenizer);
        DataSpec spec = RunData.spec(cfg, plan.modelDir(), opts);
        Tokenization tok = Tokenization.of(tokenizer);
        List<Example> train = plan.trainData() == null ? List.of()
                : Datasets.read(plan.trainData(), spec, tok).examples();
        List<Example> eval;
        if (plan.evalData() != null) {
            eval = Datasets.read(plan.evalData(), spec, tok).examples();
        } else if (cfg.data().evalFraction() > 0) {
            DatasetSplit split = DatasetSplit.split(train, cfg.data().evalFraction(), t.seed());
            train = split.train();
            eval = split.eval();
        } else {
            eval = List.of();
        }
        List<Parameter> trainable = peft.trainableParameters();
        if (trainable.isEmpty()) {
            throw new ConfigException("adapters", "no trainable parameters: declare at least one adapter");
        }
        RunConfig.OptimizerSection o = cfg.optimizer();
        OptimizerSettings settings = new OptimizerSettings(o.lr(), o.weightDecay(), o.betas().get(0),
                o.betas().get(1), o.eps());
        List<ParamGroup> groups = plan.policy() == null
                ? List.of(new ParamGroup("default", o.lr(), o.weightDecay(), trainable))
                : policyGroups(trainable, settings);
        TrainingConfig tc = TrainingConfig.builder(out)
                .maxSteps(t.steps() == null ? 0 : t.steps())
                .epochs(t.steps() == null ? (t.epochs() == null ? 1 : t.epochs()) : 0)
                .batchSize(t.batchSize()).gradientAccumulationSteps(t.gradAccumulation())
                .maxGradNorm(o.maxGradNorm()).evalEvery(t.evalEvery()).checkpointEvery(t.checkpointEvery())
                .keepCheckpoints(t.keepCheckpoints()).seed(t.seed()).logEvery(t.logEvery())
                .progressBar(t.progressBar()).resume(t.resume())
                .loadBestAtEnd(t.loadBestAtEnd() != null ? t.loadBestAtEnd() : !eval.isEmpty())
                .earlyStoppingPatience(t.earlyStoppingPatience() == null ? 0 : t.earlyStoppingPatience())
                .earlyStoppingThreshold(t.earlyStoppingThreshold())
                .gradientCheckpointing(gradientCheckpointing())
                .build();
        Trainer.Builder b = Trainer.builder(model, tc).parameterGroups(groups)
                .adamW(o.betas().get(0), o.betas().get(1), o.eps())
                .schedule(LrSchedule.Kind.valueOf(t.schedule().toUpperCase(Locale.ROOT)), t.warmupSteps())
                .trainData(new DataLoader(train.isEmpty() ? eval : train, t.batchSize(), t.packing(), t.maxSeqLen(),
                        PAD_ID, cfg.data().shuffle(), t.seed()))
                .auxiliaryLoss(peft::auxiliaryLoss);
        if (source != null) {
            b.gradientSource(source);
        }
        if (!eval.isEmpty()) {
            b.evalData(new DataLoader(eval, t.batchSize(), false, t.maxSeqLen(), PAD_ID, false, 0));
        }
        if (!allocate) {
            return b.build();
        }
        // Allocators need the run's real step count (known once the trainer has sized the data), so their
        // schedules are started after build(); the callbacks registered here forward to them.
        List<RunPlan.PlannedAdapter> allocating = plan.adapters().stream().filter(a -> a.allocator() != null)
                .toList();
        RankAllocator.Schedule[] schedules = new RankAllocator.Schedule[allocating.size()];
        for (int i = 0; i < schedules.length; i++) {
            int k = i;
            b.afterStep(m -> schedules[k].afterStep(m.step()));
            b.checkpointedState("allocator." + allocating.get(i).name(), () -> schedules[k].stateDict(),
                    state -> schedules[k].loadStateDict(state));
        }
        Trainer trainer = b.build();
        try {
            for (int i = 0; i < schedules.length; i++) {
                schedules[i] = startAllocator(allocating.get(i), trainer.totalSteps());
            }
        } catch (RuntimeException e) {
            trainer.close();
            throw e;
        }
        return trainer;
    }

    /** Activation checkpointing as configured; by default on with a quantized base. */
    private boolean gradientCheckpointing() {
        Boolean configured = plan.config().training().gradientCheckpointing();
        return configured != null ? configured : plan.quantization() != null;
    }

    /**
     * The micro-batch forward/backward that {@link #train} runs for each micro-batch (same auxiliary losses,
     * checkpointing and dropout seeds): what a data-parallel worker holding a replica of this session computes.
     */
    public MicroBatchBackward microBatchBackward() {
        return new MicroBatchBackward(model, List.of(peft::auxiliaryLoss), gradientCheckpointing(),
                plan.config().training().seed());
    }

    private RankAllocator.Schedule startAllocator(RunPlan.PlannedAdapter a, int totalSteps) {
        String field = "adapters." + a.name();
        try {
            return a.allocator().start(peft.adapter(a.name()).instance(), totalSteps);
        } catch (ConfigException e) {
            throw e.under(field);
        }
    }

    private List<ParamGroup> policyGroups(List<Parameter> trainable, OptimizerSettings settings) {
        try {
            return plan.policy().group(trainable, settings);
        } catch (ConfigException e) {
            throw e.under("optimizer.policy");
        }
    }

    // ------------------------------------------------------------------------------------------------ pruning

    /** The pruning masks in force (from the plan's {@code pruning} section or {@link #pruneAfterPeft}), or null. */
    public PruningMasks pruningMasks() {
        return masks;
    }

    /** Measured sparsity of the pruned linears (every decoder linear when nothing was pruned). */
    public SparsityReport sparsity() {
        List<String> paths = masks != null ? new ArrayList<>(masks.masks().keySet())
                : Pruner.targetPaths(model.config(), new RunConfig.PruningSection(null, 0.0, null, null, null));
        return SparsityReport.measure(model, paths);
    }

    /**
     * Merges an adapter into the base weights ({@link PeftModel#merge}) and re-applies the pruning masks, so the
     * merged model keeps the sparsity (the adapter's update at pruned positions is dropped).
     */
    public void merge(String adapterName) {
        peft.merge(adapterName);
        reapplyMasks();
    }

    /**
     * PEFT-then-prune: prunes the current model as {@code spec} says. With {@code keepAdapterUnmerged == false} the
     * active adapters are merged first (all of them must be mergeable: non-linear methods such as bottleneck, prefix
     * or prompt tuning are refused before anything changes), so the adapted weights are what gets pruned; with
     * {@code true} only the base is pruned and the adapters stay separate (their updates stay dense).
     *
     * @return sparsity of the pruned linears afterwards
     */
    public SparsityReport pruneAfterPeft(RunConfig.PruningSection spec, boolean keepAdapterUnmerged) {
        spec.validate();
        Pruner.validate(model.config(), spec);
        if (model.linears().values().stream().anyMatch(AdaptableLinear::quantized)) {
            throw new ConfigException("pruning", "the base is quantized; prune before quantizing (use the pruning "
                    + "section of the run configuration, which prunes before quantization)");
        }
        if (!keepAdapterUnmerged) {
            for (String name : peft.active()) {
                for (SiteInfo s : peft.adapter(name).sites()) {
                    if (s.kind() != SiteKind.LINEAR) {
                        throw new ConfigException("pruning", "adapter '" + name + "' ("
                                + peft.adapter(name).method().method() + ") acts on " + s.kind() + " site " + s.path()
                                + " and cannot be merged; prune with keep_adapter_unmerged or deactivate it");
                    }
                }
            }
            for (String name : peft.active()) {
                peft.merge(name);
            }
        }
        PruningMasks fresh = Pruner.prune(model, spec);
        if (masks != null) {
            masks.close();
        }
        masks = fresh;
        return SparsityReport.measure(model, masks.masks().keySet());
    }

    private void reapplyMasks() {
        if (masks != null) {
            masks.apply(model, plan.quantization() == null ? null : plan.quantization()::quantize);
        }
    }

    private static void writeSparsity(Path file, SparsityReport report) {
        try {
            String json = new com.fasterxml.jackson.databind.ObjectMapper()
                    .enable(com.fasterxml.jackson.databind.SerializationFeature.INDENT_OUTPUT)
                    .writeValueAsString(report.toMap());
            io.peft4j.core.io.AtomicFiles.write(file, json.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    /** Generates continuations with the active adapters. */
    public List<Generator.Result> generate(List<String> prompts, GenerationOptions options) {
        return new Generator(model, tokenizer).generate(prompts, options);
    }

    /** Generates a mixed batch: prompt {@code i} with adapter {@code perRow.get(i)} ({@code null}: no adapter). */
    public List<Generator.Result> generate(List<String> prompts, GenerationOptions options, List<String> perRow) {
        return new Generator(model, tokenizer).generate(prompts, options, peft.rowAdapters(perRow));
    }

    /**
     * Saves every adapter in PEFT format (default at the top level, others in sub-directories); with
     * {@code output.convert_to_lora}, PiSSA/MiLoRA-initialised adapters are saved converted to plain LoRA for the
     * original base weights.
     */
    public void saveAdapters(Path dir) {
        saveAdapters(dir, plan.config().output().convertToLora());
    }

    /** {@link #saveAdapters(Path)} with an explicit choice of conversion (see {@link AdapterFiles#save}). */
    public void saveAdapters(Path dir, boolean convertToLora) {
        AdapterFiles.save(peft, new ArrayList<>(peft.adapters().keySet()), dir, plan.config().model().path(),
                convertToLora);
    }

    @Override
    public void close() {
        if (masks != null) {
            masks.close();
        }
        tokenizer.close();
        model.close();
        manager.close();
    }
}
