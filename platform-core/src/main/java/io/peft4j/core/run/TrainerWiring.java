package io.peft4j.core.run;

import io.peft4j.api.ConfigException;
import io.peft4j.api.OptimizerSettings;
import io.peft4j.api.ParamGroup;
import io.peft4j.api.Parameter;
import io.peft4j.api.RankAllocator;
import io.peft4j.core.config.RunConfig;
import io.peft4j.core.model.LlamaModel;
import io.peft4j.core.model.TextTokenizer;
import io.peft4j.core.peft.PeftModel;
import io.peft4j.core.train.Trainer;
import io.peft4j.core.train.TrainingConfig;
import io.peft4j.core.train.data.DataLoader;
import io.peft4j.core.train.data.DataOptions;
import io.peft4j.core.train.data.DataSpec;
import io.peft4j.core.train.data.DatasetSplit;
import io.peft4j.core.train.data.Datasets;
import io.peft4j.core.train.data.Example;
import io.peft4j.core.train.data.Tokenization;
import io.peft4j.core.train.optim.LrSchedule;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The mapping from a run configuration to a {@link Trainer}: the data ({@code data.train}, {@code data.eval} or a
 * held-out {@code data.eval_fraction}), the optimizer groups (one group, or the plan's {@code OptimizerPolicy}),
 * the training section as a {@link TrainingConfig}, and the rank allocators (AdaLoRA) as step callbacks with
 * checkpointed state. Errors from plugins are reported under the config field they came from.
 */
final class TrainerWiring {
    private final RunPlan plan;
    private final LlamaModel model;
    private final TextTokenizer tokenizer;
    private final PeftModel peft;

    TrainerWiring(RunPlan plan, LlamaModel model, TextTokenizer tokenizer, PeftModel peft) {
        this.plan = plan;
        this.model = model;
        this.tokenizer = tokenizer;
        this.peft = peft;
    }

    /** Activation checkpointing as configured; by default on with a quantized base. */
    boolean gradientCheckpointing() {
        Boolean configured = plan.config().training().gradientCheckpointing();
        return configured != null ? configured : plan.quantization() != null;
    }

    /** The tokenized train and eval examples of the plan (eval empty without eval data). */
    record Examples(List<Example> train, List<Example> eval) {
    }

    Examples examples() {
        RunConfig cfg = plan.config();
        DataOptions opts = RunData.options(cfg, tokenizer);
        DataSpec spec = RunData.spec(cfg, plan.modelDir(), opts);
        Tokenization tok = Tokenization.of(tokenizer);
        List<Example> train = plan.trainData() == null ? List.of()
                : Datasets.read(plan.trainData(), spec, tok).examples();
        if (plan.evalData() != null) {
            return new Examples(train, Datasets.read(plan.evalData(), spec, tok).examples());
        }
        if (cfg.data().evalFraction() > 0) {
            DatasetSplit split = DatasetSplit.split(train, cfg.data().evalFraction(), cfg.training().seed());
            return new Examples(split.train(), split.eval());
        }
        return new Examples(train, List.of());
    }

    /** The trainer of this plan; with {@code allocate}, rank allocators (AdaLoRA) run after each optimizer step. */
    Trainer build(Path out, boolean allocate, Trainer.GradientSource source) {
        RunConfig cfg = plan.config();
        RunConfig.TrainingSection t = cfg.training();
        Examples data = examples();
        List<Example> train = data.train();
        List<Example> eval = data.eval();
        List<Parameter> trainable = peft.trainableParameters();
        if (trainable.isEmpty()) {
            throw new ConfigException("adapters", "no trainable parameters: declare at least one adapter");
        }
        RunConfig.OptimizerSection o = cfg.optimizer();
        Trainer.Builder b = Trainer.builder(model, trainingConfig(out, !eval.isEmpty()))
                .parameterGroups(groups(trainable))
                .adamW(o.betas().get(0), o.betas().get(1), o.eps())
                .schedule(LrSchedule.Kind.valueOf(t.schedule().toUpperCase(Locale.ROOT)), t.warmupSteps())
                .trainData(new DataLoader(train.isEmpty() ? eval : train, t.batchSize(), t.packing(), t.maxSeqLen(),
                        RunData.PAD_ID, cfg.data().shuffle(), t.seed()))
                .auxiliaryLoss(peft::auxiliaryLoss);
        if (source != null) {
            b.gradientSource(source);
        }
        if (!eval.isEmpty()) {
            b.evalData(new DataLoader(eval, t.batchSize(), false, t.maxSeqLen(), RunData.PAD_ID, false, 0));
        }
        return allocate ? withAllocators(b) : b.build();
    }

    /** The training section as the trainer reads it; {@code load_best_at_end} defaults to "there is eval data". */
    private TrainingConfig trainingConfig(Path out, boolean hasEval) {
        RunConfig.TrainingSection t = plan.config().training();
        RunConfig.OptimizerSection o = plan.config().optimizer();
        return TrainingConfig.builder(out)
                .maxSteps(t.steps() == null ? 0 : t.steps())
                .epochs(t.steps() == null ? (t.epochs() == null ? 1 : t.epochs()) : 0)
                .batchSize(t.batchSize()).gradientAccumulationSteps(t.gradAccumulation())
                .maxGradNorm(o.maxGradNorm()).evalEvery(t.evalEvery()).checkpointEvery(t.checkpointEvery())
                .keepCheckpoints(t.keepCheckpoints()).seed(t.seed()).logEvery(t.logEvery())
                .progressBar(t.progressBar()).resume(t.resume())
                .loadBestAtEnd(t.loadBestAtEnd() != null ? t.loadBestAtEnd() : hasEval)
                .earlyStoppingPatience(t.earlyStoppingPatience() == null ? 0 : t.earlyStoppingPatience())
                .earlyStoppingThreshold(t.earlyStoppingThreshold())
                .gradientCheckpointing(gradientCheckpointing())
                .build();
    }

    /** One group with the configured lr and weight decay, or the groups of the plan's optimizer policy. */
    private List<ParamGroup> groups(List<Parameter> trainable) {
        RunConfig.OptimizerSection o = plan.config().optimizer();
        if (plan.policy() == null) {
            return List.of(new ParamGroup("default", o.lr(), o.weightDecay(), trainable));
        }
        OptimizerSettings settings = new OptimizerSettings(o.lr(), o.weightDecay(), o.betas().get(0),
                o.betas().get(1), o.eps());
        try {
            return plan.policy().group(trainable, settings);
        } catch (ConfigException e) {
            throw e.under("optimizer.policy");
        }
    }

    /**
     * Builds the trainer with the plan's rank allocators. They need the run's real step count (known once the
     * trainer has sized the data), so their schedules are started after build(); the callbacks registered before
     * forward to them.
     */
    private Trainer withAllocators(Trainer.Builder b) {
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

    private RankAllocator.Schedule startAllocator(RunPlan.PlannedAdapter a, int totalSteps) {
        String field = "adapters." + a.name();
        try {
            return a.allocator().start(peft.adapter(a.name()).instance(), totalSteps);
        } catch (ConfigException e) {
            throw e.under(field);
        }
    }
}
