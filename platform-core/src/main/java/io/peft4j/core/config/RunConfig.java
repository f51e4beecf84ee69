package io.peft4j.core.config;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;
import java.util.Map;

/**
 * One run, as declared in a YAML or JSON file: base model, optional quantization, adapters (which method,
 * initializer and rank allocator apply to which modules), optimizer and policy, training, data and output.
 * Parsed and checked by {@link RunConfigParser}; checked against the installed plugins and the model's
 * {@code config.json} by {@link RunConfigValidator}, before any tensor is created.
 */
public record RunConfig(
        @JsonProperty("model") ModelSection model,
        @JsonProperty("quantization") QuantizationSection quantization,
        @JsonProperty("adapters") List<AdapterSection> adapters,
        @JsonProperty("optimizer") OptimizerSection optimizer,
        @JsonProperty("training") TrainingSection training,
        @JsonProperty("data") DataSection data,
        @JsonProperty("output") OutputSection output,
        @JsonProperty("pruning") PruningSection pruning) {

    public RunConfig {
        model = model == null ? new ModelSection(null, null) : model;
        adapters = adapters == null ? List.of() : List.copyOf(adapters);
        optimizer = optimizer == null ? new OptimizerSection(null, null, null, null, null, null) : optimizer;
        training = training == null ? TrainingSection.defaults() : training;
        data = data == null ? DataSection.defaults() : data;
        output = output == null ? new OutputSection(null, null) : output;
    }

    public RunConfig withModelPath(String path) {
        return new RunConfig(new ModelSection(path, model.device()), quantization, adapters, optimizer, training, data,
                output, pruning);
    }

    public RunConfig withAdapters(List<AdapterSection> list) {
        return new RunConfig(model, quantization, list, optimizer, training, data, output, pruning);
    }

    public RunConfig withTraining(TrainingSection t) {
        return new RunConfig(model, quantization, adapters, optimizer, t, data, output, pruning);
    }

    public RunConfig withOutputDir(String dir) {
        return new RunConfig(model, quantization, adapters, optimizer, training, data,
                new OutputSection(dir, output.convertToLora()), pruning);
    }

    /** A run without pruning. */
    public RunConfig(ModelSection model, QuantizationSection quantization, List<AdapterSection> adapters,
                     OptimizerSection optimizer, TrainingSection training, DataSection data, OutputSection output) {
        this(model, quantization, adapters, optimizer, training, data, output, null);
    }

    /** This configuration with another pruning section (null: none). */
    public RunConfig withPruning(PruningSection p) {
        return new RunConfig(model, quantization, adapters, optimizer, training, data, output, p);
    }

    /**
     * @param path   a Hugging Face model directory, or {@code bundled:stories260K} (the default) for the embedded model
     * @param device {@code cpu} (default), {@code cuda}, {@code cuda:N} or {@code auto}
     */
    public record ModelSection(@JsonProperty("path") String path, @JsonProperty("device") String device) {
        public static final String BUNDLED = "bundled:stories260K";

        public ModelSection {
            path = path == null ? BUNDLED : path;
            device = device == null ? "cpu" : device;
        }
    }

    /** @param method installed quantizer id (e.g. {@code nf4}); {@code options} are passed to it. */
    public record QuantizationSection(@JsonProperty("method") String method,
                                      @JsonProperty("options") Map<String, Object> options) {
        public QuantizationSection {
            options = options == null ? Map.of() : Map.copyOf(options);
        }
    }

    /**
     * One adapter. {@code name}, {@code method}, {@code initializer} and {@code rank_allocator} are the
     * platform's keys; every other key is a hyper-parameter of the method, with Hugging Face PEFT's names
     * ({@code r}, {@code lora_alpha}, {@code target_modules} ...), collected in {@code settings}.
     */
    public record AdapterSection(String name, String method, String initializer,
                                 Map<String, Object> rankAllocator, Map<String, Object> settings) {
    }

    /**
     * AdamW settings (PyTorch semantics) and an optional policy.
     *
     * @param policy installed optimizer policy id plus its options, e.g. {@code {id: loraplus, loraplus_lr_ratio: 16}}
     */
    public record OptimizerSection(@JsonProperty("lr") Double lr,
                                   @JsonProperty("weight_decay") Double weightDecay,
                                   @JsonProperty("betas") List<Double> betas,
                                   @JsonProperty("eps") Double eps,
                                   @JsonProperty("max_grad_norm") Double maxGradNorm,
                                   @JsonProperty("policy") Map<String, Object> policy) {
        public OptimizerSection {
            lr = lr == null ? 1e-3 : lr;
            weightDecay = weightDecay == null ? 0.0 : weightDecay;
            betas = betas == null ? List.of(0.9, 0.999) : List.copyOf(betas);
            eps = eps == null ? 1e-8 : eps;
            maxGradNorm = maxGradNorm == null ? 1.0 : maxGradNorm;
        }
    }

    /**
     * @param steps            optimizer steps (takes precedence over epochs)
     * @param epochs           passes over the training data when {@code steps} is not set
     * @param batchSize        sequences per micro-batch
     * @param gradAccumulation micro-batches per optimizer step
     * @param schedule         {@code constant}, {@code linear} or {@code cosine}
     * @param warmupSteps      linear warm-up steps
     * @param maxSeqLen        longest training sequence (tokens); longer examples are truncated or rejected
     * @param truncate         truncate long examples (true) or fail naming the line (false)
     * @param packing          concatenate examples into full rows instead of padding
     * @param evalEvery        evaluate every N steps (0 = only at the end)
     * @param checkpointEvery  checkpoint every N steps (0 = never)
     * @param keepCheckpoints  how many checkpoints to keep
     * @param logEvery         metrics line every N steps
     * @param seed             seed for initialisation, shuffling and dropout
     * @param progressBar      console progress bar
     * @param resume           continue from the latest checkpoint in {@code output.dir} (same seed and batch shape)
     * @param gradientCheckpointing recompute each layer's activations in the backward pass (less memory, about one
     *                         more forward pass of compute); null = on for a quantized base (as PEFT's
     *                         {@code prepare_model_for_kbit_training} does), off otherwise
     * @param loadBestAtEnd    end with (and save) the adapter of the eval with the lowest loss, as Hugging Face's
     *                         {@code load_best_model_at_end}; null = on when there is eval data
     * @param earlyStoppingPatience stop after this many evals in a row without improvement (null = never)
     * @param earlyStoppingThreshold how much an eval must improve on the best to count as an improvement (0)
     */
    public record TrainingSection(@JsonProperty("steps") Integer steps,
                                  @JsonProperty("epochs") Integer epochs,
                                  @JsonProperty("batch_size") Integer batchSize,
                                  @JsonProperty("grad_accumulation") Integer gradAccumulation,
                                  @JsonProperty("schedule") String schedule,
                                  @JsonProperty("warmup_steps") Integer warmupSteps,
                                  @JsonProperty("max_seq_len") Integer maxSeqLen,
                                  @JsonProperty("truncate") Boolean truncate,
                                  @JsonProperty("packing") Boolean packing,
                                  @JsonProperty("eval_every") Integer evalEvery,
                                  @JsonProperty("checkpoint_every") Integer checkpointEvery,
                                  @JsonProperty("keep_checkpoints") Integer keepCheckpoints,
                                  @JsonProperty("log_every") Integer logEvery,
                                  @JsonProperty("seed") Long seed,
                                  @JsonProperty("progress_bar") Boolean progressBar,
                                  @JsonProperty("resume") Boolean resume,
                                  @JsonProperty("gradient_checkpointing") Boolean gradientCheckpointing,
                                  @JsonProperty("load_best_at_end") Boolean loadBestAtEnd,
                                  @JsonProperty("early_stopping_patience") Integer earlyStoppingPatience,
                                  @JsonProperty("early_stopping_threshold") Double earlyStoppingThreshold) {
        public TrainingSection {
            batchSize = batchSize == null ? 8 : batchSize;
            gradAccumulation = gradAccumulation == null ? 1 : gradAccumulation;
            schedule = schedule == null ? "cosine" : schedule;
            warmupSteps = warmupSteps == null ? 0 : warmupSteps;
            maxSeqLen = maxSeqLen == null ? 256 : maxSeqLen;
            truncate = truncate == null || truncate;
            packing = packing != null && packing;
            evalEvery = evalEvery == null ? 0 : evalEvery;
            checkpointEvery = checkpointEvery == null ? 0 : checkpointEvery;
            keepCheckpoints = keepCheckpoints == null ? 2 : keepCheckpoints;
            logEvery = logEvery == null ? 10 : logEvery;
            seed = seed == null ? 42L : seed;
            progressBar = progressBar == null || progressBar;
            resume = resume != null && resume;
            earlyStoppingThreshold = earlyStoppingThreshold == null ? 0.0 : earlyStoppingThreshold;
        }

        public TrainingSection withSteps(int n) {
            return new TrainingSection(n, epochs, batchSize, gradAccumulation, schedule, warmupSteps, maxSeqLen,
                    truncate, packing, evalEvery, checkpointEvery, keepCheckpoints, logEvery, seed, progressBar, resume,
                    gradientCheckpointing, loadBestAtEnd, earlyStoppingPatience, earlyStoppingThreshold);
        }

        public TrainingSection withProgressBar(boolean on) {
            return new TrainingSection(steps, epochs, batchSize, gradAccumulation, schedule, warmupSteps, maxSeqLen,
                    truncate, packing, evalEvery, checkpointEvery, keepCheckpoints, logEvery, seed, on, resume,
                    gradientCheckpointing, loadBestAtEnd, earlyStoppingPatience, earlyStoppingThreshold);
        }

        /** This section with {@code resume} set (the {@code --resume} flag). */
        public TrainingSection withResume(boolean on) {
            return new TrainingSection(steps, epochs, batchSize, gradAccumulation, schedule, warmupSteps, maxSeqLen,
                    truncate, packing, evalEvery, checkpointEvery, keepCheckpoints, logEvery, seed, progressBar, on,
                    gradientCheckpointing, loadBestAtEnd, earlyStoppingPatience, earlyStoppingThreshold);
        }

        static TrainingSection defaults() {
            return new TrainingSection(null, null, null, null, null, null, null, null, null, null, null, null, null,
                    null, null, null, null, null, null, null);
        }
    }

    /**
     * @param train         training file: JSONL, JSON, CSV, TSV, Parquet or plain .txt ({@code bundled:demo/train.jsonl}
     *                      for the embedded demo task); rows in one of the {@code format}s
     * @param eval          evaluation file, same kinds (optional)
     * @param evalFraction  share of the training file held out for evaluation when {@code eval} is not given
     * @param addEos        append the end-of-sequence token to every example (not to chat examples: their template
     *                      places it)
     * @param addBos        prepend the beginning-of-sequence token (not to chat examples)
     * @param shuffle       shuffle training examples each epoch (seeded)
     * @param format        {@code text}, {@code prompt_completion}, {@code messages}, {@code alpaca} or
     *                      {@code plain_text}; null: detected per file
     * @param columns       canonical field -> the file's column, e.g. {@code {prompt: question, completion: answer}}
     * @param chatTemplate  chat template for {@code messages} data: Jinja text, or the path of a {@code .jinja} file;
     *                      null: the model's {@code tokenizer_config.json} {@code chat_template}
     * @param assistantOnlyLoss {@code messages}: loss on assistant turns only (default) or, false, on every token
     * @param alpacaTemplate {@code alpaca}: {@code prompt_input} / {@code prompt_no_input} with {instruction} and
     *                      {input} placeholders (default: Stanford Alpaca's prompts)
     */
    public record DataSection(@JsonProperty("train") String train,
                              @JsonProperty("eval") String eval,
                              @JsonProperty("eval_fraction") Double evalFraction,
                              @JsonProperty("add_eos") Boolean addEos,
                              @JsonProperty("add_bos") Boolean addBos,
                              @JsonProperty("shuffle") Boolean shuffle,
                              @JsonProperty("format") String format,
                              @JsonProperty("columns") Map<String, String> columns,
                              @JsonProperty("chat_template") String chatTemplate,
                              @JsonProperty("assistant_only_loss") Boolean assistantOnlyLoss,
                              @JsonProperty("alpaca_template") AlpacaPrompt alpacaTemplate) {
        /** Canonical field names {@code columns} may map. */
        public static final List<String> FIELDS = List.of("text", "prompt", "completion", "messages", "instruction",
                "input", "output");

        public DataSection {
            evalFraction = evalFraction == null ? 0.0 : evalFraction;
            addEos = addEos == null || addEos;
            addBos = addBos == null || addBos;
            shuffle = shuffle == null || shuffle;
            columns = columns == null ? Map.of() : Map.copyOf(columns);
            assistantOnlyLoss = assistantOnlyLoss == null || assistantOnlyLoss;
        }

        /** The first six settings; the rest at their defaults. */
        public DataSection(String train, String eval, Double evalFraction, Boolean addEos, Boolean addBos,
                           Boolean shuffle) {
            this(train, eval, evalFraction, addEos, addBos, shuffle, null, null, null, null, null);
        }

        static DataSection defaults() {
            return new DataSection(null, null, null, null, null, null);
        }
    }

    /** {@code data.alpaca_template}: the Alpaca prompts, {instruction} and {input} filled in. */
    public record AlpacaPrompt(@JsonProperty("prompt_input") String promptInput,
                               @JsonProperty("prompt_no_input") String promptNoInput) {
    }

    /**
     * Pruning of the base model's linear layers, applied before the adapters are created (prune-then-PEFT); masks
     * are kept and re-applied after merges. See {@code io.peft4j.core.prune.Pruner}.
     *
     * @param method   {@code magnitude} (unstructured: the smallest |w| of each targeted linear, or over all of
     *                 them with {@code scope: global}), {@code mlp_channels} (whole intermediate channels: rows of
     *                 gate_proj/up_proj and columns of down_proj) or {@code heads} (whole grouped-query groups: one
     *                 key/value head with its query heads: q/k/v rows and o_proj columns)
     * @param sparsity share of weights (magnitude) or of channels / head groups (structured) removed, in [0, 1)
     * @param scope    {@code per_layer} (default: every targeted module, or every decoder layer for structured
     *                 methods, loses that share) or {@code global} (one ranking over all of them)
     * @param targets  magnitude only: linear module names (default every decoder linear: q_proj, k_proj, v_proj,
     *                 o_proj, gate_proj, up_proj, down_proj; lm_head and embeddings are never pruned)
     * @param layers   decoder layer indices to prune (default all)
     */
    public record PruningSection(@JsonProperty("method") String method,
                                 @JsonProperty("sparsity") Double sparsity,
                                 @JsonProperty("scope") String scope,
                                 @JsonProperty("targets") List<String> targets,
                                 @JsonProperty("layers") List<Integer> layers) {
        public static final List<String> METHODS = List.of("magnitude", "mlp_channels", "heads");
        public static final List<String> SCOPES = List.of("per_layer", "global");
        public static final List<String> LINEARS = List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                "up_proj", "down_proj");

        public PruningSection {
            method = method == null ? "magnitude" : method;
            scope = scope == null ? "per_layer" : scope;
            targets = targets == null ? LINEARS : List.copyOf(targets);
            layers = layers == null ? null : List.copyOf(layers);
        }

        /** Checks values that need no model; throws {@link io.peft4j.api.ConfigException} naming the field. */
        public void validate() {
            if (!METHODS.contains(method)) {
                throw new io.peft4j.api.ConfigException("pruning.method", "expected one of " + METHODS + ", got \""
                        + method + "\"");
            }
            if (sparsity == null || !(sparsity >= 0.0 && sparsity < 1.0)) {
                throw new io.peft4j.api.ConfigException("pruning.sparsity", "must be in [0, 1) (the share of "
                        + "weights or channels removed), got " + sparsity);
            }
            if (!SCOPES.contains(scope)) {
                throw new io.peft4j.api.ConfigException("pruning.scope", "expected one of " + SCOPES + ", got \""
                        + scope + "\"");
            }
            for (String t : targets) {
                if (!LINEARS.contains(t)) {
                    throw new io.peft4j.api.ConfigException("pruning.targets", "\"" + t + "\" is not a prunable "
                            + "linear; expected some of " + LINEARS);
                }
            }
            if (targets.isEmpty()) {
                throw new io.peft4j.api.ConfigException("pruning.targets", "must name at least one of " + LINEARS);
            }
        }
    }

    /**
     * @param dir           output directory (adapter, metrics, loss curve, checkpoints)
     * @param convertToLora save adapters initialised by a base-rewriting initializer (PiSSA, MiLoRA) as the
     *                      equivalent plain LoRA adapter for the ORIGINAL base weights (rank doubled, PEFT's
     *                      {@code path_initial_model_for_weight_conversion}) instead of the adapter for the residual
     *                      base; default false
     */
    public record OutputSection(@JsonProperty("dir") String dir,
                                @JsonProperty("convert_to_lora") Boolean convertToLora) {
        public OutputSection {
            dir = dir == null ? "runs/latest" : dir;
            convertToLora = convertToLora != null && convertToLora;
        }
    }
}
