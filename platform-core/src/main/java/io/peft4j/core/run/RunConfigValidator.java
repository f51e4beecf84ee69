package io.peft4j.core.run;

import io.peft4j.api.Adapter;
import io.peft4j.api.AdapterConfig;
import io.peft4j.api.ConfigException;
import io.peft4j.api.Initializer;
import io.peft4j.api.LowRankConfig;
import io.peft4j.api.PlannedQuantization;
import io.peft4j.api.OptimizerPolicy;
import io.peft4j.api.Quantizer;
import io.peft4j.api.RankAllocator;
import io.peft4j.api.SiteInfo;
import io.peft4j.api.VirtualTokenConfig;
import io.peft4j.core.config.RunConfig;
import io.peft4j.core.model.LlamaConfig;
import io.peft4j.core.model.LlamaSiteLayout;
import io.peft4j.core.peft.AdapterConfigCodec;
import io.peft4j.core.peft.BaseTrainingOptions;
import io.peft4j.core.peft.PeftModel;
import io.peft4j.core.plugin.Configured;
import io.peft4j.core.plugin.InstalledExtensions;
import io.peft4j.core.util.Suggestions;
import io.peft4j.cuda.DeviceResolver;
import io.peft4j.cuda.DeviceUnavailableException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Checks a {@link RunConfig} against the installed plugins and the model's {@code config.json} - without reading
 * weights - and produces a {@link RunPlan}. Every error names the configuration field and what was expected.
 */
public final class RunConfigValidator {
    /** PEFT's field that {@code initializer:} in a composition config sets (LowRankSettings.initializer). */
    private static final String INIT_KEY = "init_lora_weights";

    private RunConfigValidator() {
    }

    public static RunPlan validate(RunConfig cfg, InstalledExtensions ext) {
        Path modelDir = Bundled.modelDir(cfg.model().path(), "model.path");
        Path configJson = modelDir.resolve("config.json");
        if (!Files.isRegularFile(configJson)) {
            throw new ConfigException("model.path", modelDir + " has no config.json (expected a Hugging Face model "
                    + "directory)");
        }
        if (!Files.isRegularFile(modelDir.resolve("tokenizer.json"))) {
            throw new ConfigException("model.path", modelDir + " has no tokenizer.json");
        }
        LlamaConfig mc = LlamaConfig.load(configJson);
        checkDevice(cfg.model().device());
        checkWeightsHoldLayers(modelDir, mc);
        List<SiteInfo> sites = LlamaSiteLayout.of(mc);

        PlannedQuantization<?> quantization = null;
        if (cfg.quantization() != null) {
            String id = cfg.quantization().method();
            Quantizer<?> quantizer = ext.quantizer(id).orElseThrow(() -> new ConfigException("quantization.method",
                    "no installed quantizer \"" + id + "\"; installed: " + ext.quantizers().keySet()));
            quantization = Configured.quantization(quantizer, cfg.quantization().options(), "quantization.options");
        }

        List<RunPlan.PlannedAdapter> planned = new ArrayList<>();
        for (int i = 0; i < cfg.adapters().size(); i++) {
            planned.add(planAdapter(cfg.adapters().get(i), "adapters[" + i + "]", ext, sites, mc));
        }
        checkSharing(planned);
        if (cfg.output().convertToLora() && planned.stream().noneMatch(p -> rewritesBase(p, ext))) {
            throw new ConfigException("output.convert_to_lora", "no adapter is initialised by an initializer plugin "
                    + "that rewrites the base weights (e.g. initializer: pissa or milora), so there is nothing to "
                    + "convert; remove the option or add an initializer");
        }

        Configured.Policy<?> policy = null;
        if (cfg.optimizer().policy() != null) {
            String id = (String) cfg.optimizer().policy().get("id");
            OptimizerPolicy<?> p = ext.optimizerPolicy(id).orElseThrow(() -> new ConfigException(
                    "optimizer.policy.id", "no installed optimizer policy \"" + id + "\"; installed: "
                    + ext.optimizerPolicies().keySet()));
            Map<String, Object> options = new LinkedHashMap<>(cfg.optimizer().policy());
            options.remove("id");
            policy = Configured.policy(p, options, "optimizer.policy");
        }
        Path train = cfg.data().train() == null ? null : Bundled.file(cfg.data().train(), "data.train");
        Path eval = cfg.data().eval() == null ? null : Bundled.file(cfg.data().eval(), "data.eval");
        if (cfg.training().maxSeqLen() > mc.maxPositionEmbeddings()) {
            throw new ConfigException("training.max_seq_len", cfg.training().maxSeqLen() + " is longer than the "
                    + "model's context (max_position_embeddings = " + mc.maxPositionEmbeddings() + ")");
        }
        checkContext(cfg, planned, mc);
        if (cfg.pruning() != null) {
            cfg.pruning().validate();
            io.peft4j.core.prune.Pruner.validate(mc, cfg.pruning());
        }
        return new RunPlan(cfg, modelDir, mc, planned, quantization, policy, train, eval);
    }

    private static RunPlan.PlannedAdapter planAdapter(RunConfig.AdapterSection a, String field,
                                                      InstalledExtensions ext, List<SiteInfo> sites, LlamaConfig mc) {
        Adapter method = ext.adapter(a.method()).orElseThrow(() -> {
            String near = Suggestions.nearest(a.method(), ext.adapters().keySet());
            return new ConfigException(field + ".method", "no installed method \"" + a.method() + "\""
                    + (near != null ? " (did you mean '" + near + "'?)" : "") + "; installed methods: "
                    + ext.adapters().keySet() + " (drop plugin jars into the plugins directory to add more)");
        });
        Map<String, Object> settings = new LinkedHashMap<>(a.settings());
        if (a.initializer() != null) {
            String init = a.initializer();
            if (!LowRankConfig.class.isAssignableFrom(method.configType())) {
                throw new ConfigException(field + ".initializer", "method '" + method.method() + "' has no low-rank "
                        + "factors to initialise (its config is not a LoRA-family LowRankConfig), so initializer '"
                        + init + "' cannot be used with it");
            }
            Object given = settings.get(INIT_KEY);
            if (given != null && !String.valueOf(given).equals(init)) {
                throw new ConfigException(field + ".initializer", "conflicts with " + INIT_KEY + ": " + given);
            }
            Initializer initializer = ext.initializerFor(init).orElseThrow(() -> new ConfigException(
                    field + ".initializer", "no installed initializer handles \"" + init + "\"; installed: "
                    + ext.initializers().keySet()));
            settings.put(INIT_KEY, init);
        }
        AdapterConfig config = AdapterConfigCodec.parseStrict(method, settings, field);
        List<SiteInfo> matched = PeftModel.resolveSites(method, config, sites, mc.modelType(), field);
        try {
            BaseTrainingOptions.check(config, sites, matched);
            method.validate(config, matched, mc.shape());
        } catch (ConfigException e) {
            throw new ConfigException(field + "." + e.field(), e.reason());
        }
        RankAllocator<?> allocator;
        Map<String, Object> allocatorOptions = new LinkedHashMap<>();
        if (a.rankAllocator() != null) {
            String id = (String) a.rankAllocator().get("id");
            allocator = ext.rankAllocator(id).orElseThrow(() -> new ConfigException(field + ".rank_allocator.id",
                    "no installed rank allocator \"" + id + "\"; installed: " + ext.rankAllocators().keySet()));
            if (!allocator.supports(method.method())) {
                throw new ConfigException(field + ".rank_allocator", "allocator '" + id + "' cannot drive method '"
                        + method.method() + "' (it has no ranks it can change)");
            }
            allocatorOptions.putAll(a.rankAllocator());
            allocatorOptions.remove("id");
        } else {
            // A method whose plugin ships an allocator of the same id (AdaLoRA) always allocates, as PEFT does.
            allocator = ext.rankAllocator(method.method()).filter(r -> r.supports(method.method())).orElse(null);
        }
        Configured.Allocator<?> configured = null;
        if (allocator != null) {
            String at = field + ".rank_allocator";
            configured = Configured.allocator(allocator, allocatorOptions, at);
            try {
                configured.validate(config);
            } catch (ConfigException e) {
                throw e.under(field);   // the allocator names rank_allocator.<key> or the adapter's own key
            }
        }
        return new RunPlan.PlannedAdapter(a.name(), method, config, matched, configured);
    }

    /**
     * The site layout is computed from config.json alone; a config claiming more layers than the weights hold must
     * fail here, before that layout (one entry per claimed layer) is built. Missing weights are left to the loader.
     */
    private static void checkWeightsHoldLayers(Path modelDir, LlamaConfig mc) {
        if (!Files.isRegularFile(modelDir.resolve(io.peft4j.core.io.SafetensorsCheckpoint.SINGLE_FILE))
                && !Files.isRegularFile(modelDir.resolve(io.peft4j.core.io.SafetensorsCheckpoint.INDEX_FILE))) {
            return;
        }
        try (var ckpt = io.peft4j.core.io.SafetensorsCheckpoint.open(modelDir)) {
            io.peft4j.core.model.LlamaModel.checkLayerCount(mc, ckpt);
        } catch (io.peft4j.core.model.ModelLoadException | io.peft4j.core.io.SafetensorsException e) {
            throw new ConfigException("model.path", e.getMessage());
        }
    }

    /** Whether the adapter's init_lora_weights names an installed initializer that rewrites the base (PiSSA ...). */
    private static boolean rewritesBase(RunPlan.PlannedAdapter p, InstalledExtensions ext) {
        return PeftModel.initializerOf(p.config(), ext::initializerFor).map(Initializer::rewritesBase).orElse(false);
    }

    /**
     * Virtual tokens (prompt tuning) and prefix tokens (prefix tuning) occupy positions of the model's context, so
     * the longest training sequence plus all of them must fit in {@code max_position_embeddings}. The count is read
     * from the adapters' {@link VirtualTokenConfig#virtualTokens()} (PEFT's {@code num_virtual_tokens}).
     */
    private static void checkContext(RunConfig cfg, List<RunPlan.PlannedAdapter> planned, LlamaConfig mc) {
        int virtual = 0;
        List<String> who = new ArrayList<>();
        for (RunPlan.PlannedAdapter a : planned) {
            int n = a.config() instanceof VirtualTokenConfig v ? v.virtualTokens() : 0;
            if (n > 0) {
                virtual += n;
                who.add(a.name() + " (" + a.method().method() + "): " + n);
            }
        }
        int seq = cfg.training().maxSeqLen();
        if (virtual > 0 && seq + virtual > mc.maxPositionEmbeddings()) {
            throw new ConfigException("training.max_seq_len", seq + " tokens plus " + virtual + " virtual/prefix "
                    + "tokens of " + who + " = " + (seq + virtual) + " exceed the model's context "
                    + "(max_position_embeddings = " + mc.maxPositionEmbeddings() + "); lower max_seq_len to at most "
                    + (mc.maxPositionEmbeddings() - virtual) + " or use fewer num_virtual_tokens");
        }
    }

    private static void checkSharing(List<RunPlan.PlannedAdapter> planned) {
        for (int i = 0; i < planned.size(); i++) {
            for (int j = 0; j < i; j++) {
                RunPlan.PlannedAdapter x = planned.get(i);
                RunPlan.PlannedAdapter y = planned.get(j);
                for (SiteInfo s : x.sites()) {
                    boolean shared = y.sites().stream().anyMatch(o -> o.path().equals(s.path()) && o.kind() == s.kind());
                    if (shared && (!x.method().canShareSite(y.method().method())
                            || !y.method().canShareSite(x.method().method()))) {
                        throw new ConfigException("adapters", "adapter '" + x.name() + "' (" + x.method().method()
                                + ") and adapter '" + y.name() + "' (" + y.method().method() + ") both target "
                                + s.path() + ", and these methods cannot stack on one module");
                    }
                }
            }
        }
    }

    /**
     * The platform computes on the CPU; {@code auto} falls back to it (with a note), {@code cuda} fails clearly when
     * no CUDA device and native are present - which is always the case on machines without the -Pcuda build.
     */
    private static void checkDevice(String device) {
        try {
            DeviceResolver.Resolution r = new DeviceResolver().resolve(device);
            // Only a choice the platform made is worth a line (auto); an explicit cpu needs no confirmation.
            if (r.requested().kind() != io.peft4j.cuda.Device.Kind.CPU && r.note() != null && !r.note().isBlank()) {
                System.err.println("device: " + r.note());
            }
            if (!r.device().getDeviceType().equals(ai.djl.Device.Type.CPU)) {
                throw new ConfigException("model.device", "GPU execution is detected but not wired into the model "
                        + "runtime yet; use cpu or auto");
            }
        } catch (IllegalArgumentException | DeviceUnavailableException e) {
            throw new ConfigException("model.device", e.getMessage());
        }
    }

}
