package io.peft4j.core.run;

import ai.djl.ndarray.NDManager;
import io.peft4j.api.ConfigException;
import io.peft4j.api.PlannedQuantization;
import io.peft4j.core.config.RunConfig;
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
import io.peft4j.core.train.TrainingResult;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A loaded run: base model, tokenizer and adapters as a {@link RunPlan} declares them. The Java API for embedding
 * peft4j in applications: {@link #open}, then {@link #train}, {@link #evaluate}, {@link #generate},
 * {@link #saveAdapters}; close to free native memory.
 */
public final class TuningSession implements AutoCloseable {
    private final RunPlan plan;
    private final InstalledExtensions ext;
    private final NDManager manager;
    private final LlamaModel model;
    private final TextTokenizer tokenizer;
    private final PeftModel peft;
    private final SessionPruning pruning;
    private final TrainerWiring trainers;

    private TuningSession(RunPlan plan, InstalledExtensions ext, NDManager manager, LlamaModel model,
                          TextTokenizer tokenizer, PeftModel peft, PruningMasks masks) {
        this.plan = plan;
        this.ext = ext;
        this.manager = manager;
        this.model = model;
        this.tokenizer = tokenizer;
        this.peft = peft;
        this.pruning = new SessionPruning(plan, model, peft, masks);
        this.trainers = new TrainerWiring(plan, model, tokenizer, peft);
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
            if (PeftModel.initializerOf(a.config(), ext::initializerFor).isPresent()) {
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
        try (Trainer trainer = trainers.build(out, true, source)) {
            EvalResult before = trainer.hasEvalData() ? trainer.evaluate() : null;
            long t0 = System.nanoTime();
            TrainingResult result = trainer.train();
            double secs = (System.nanoTime() - t0) / 1e9;
            EvalResult after = trainer.hasEvalData() ? trainer.evaluate() : null;
            Path adapterDir = out.resolve("adapter");
            saveAdapters(adapterDir);
            pruning.writeReport(out);
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
        try (Trainer trainer = trainers.build(out, false, null)) {
            if (!trainer.hasEvalData()) {
                throw new ConfigException("data.eval", "no eval data: set data.eval to a JSONL file, or "
                        + "data.eval_fraction > 0 to hold out part of data.train");
            }
            return trainer.evaluate();
        }
    }

    /**
     * The micro-batch forward/backward that {@link #train} runs for each micro-batch (same auxiliary losses,
     * checkpointing and dropout seeds): what a data-parallel worker holding a replica of this session computes.
     */
    public MicroBatchBackward microBatchBackward() {
        return new MicroBatchBackward(model, List.of(peft::auxiliaryLoss), trainers.gradientCheckpointing(),
                plan.config().training().seed());
    }

    // ------------------------------------------------------------------------------------------------ pruning

    /** The pruning masks in force (from the plan's {@code pruning} section or {@link #pruneAfterPeft}), or null. */
    public PruningMasks pruningMasks() {
        return pruning.masks();
    }

    /** Measured sparsity of the pruned linears (every decoder linear when nothing was pruned). */
    public SparsityReport sparsity() {
        return pruning.sparsity();
    }

    /**
     * Merges an adapter into the base weights ({@link PeftModel#merge}) and re-applies the pruning masks, so the
     * merged model keeps the sparsity (the adapter's update at pruned positions is dropped).
     */
    public void merge(String adapterName) {
        peft.merge(adapterName);
        pruning.reapply();
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
        return pruning.pruneAfterPeft(spec, keepAdapterUnmerged);
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
        pruning.close();
        tokenizer.close();
        model.close();
        manager.close();
    }
}
