package io.peft4j.core.peft;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.peft4j.api.Adapter;
import io.peft4j.api.AdapterConfig;
import io.peft4j.api.AdapterInstance;
import io.peft4j.api.ConfigException;
import io.peft4j.api.ForwardContext;
import io.peft4j.api.Initializer;
import io.peft4j.api.LinearSiteModule;
import io.peft4j.api.LowRankConfig;
import io.peft4j.api.LowRankSite;
import io.peft4j.api.LowRankUpdate;
import io.peft4j.api.Parameter;
import io.peft4j.api.PlannedQuantization;
import io.peft4j.api.SiteInfo;
import io.peft4j.api.SiteKind;
import io.peft4j.api.SiteModule;
import io.peft4j.api.TargetSpec;
import io.peft4j.core.model.AdaptableLinear;
import io.peft4j.core.model.RowAdapters;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * A base model with named adapters: attaches them to the sites their targets select, activates one, several (their
 * contributions add, in list order) or none, merges and unmerges, deletes. The adapters' tensors live in a
 * per-adapter sub-manager of the model's manager, so deleting an adapter frees them.
 */
public final class PeftModel {
    private final AdapterHost host;
    private final Function<String, Optional<Initializer>> initializers;
    private final Map<String, AttachedAdapter> adapters = new LinkedHashMap<>();
    private final Map<String, NDManager> managers = new LinkedHashMap<>();
    private final Map<String, Map<String, LowRankUpdate>> initialFactors = new LinkedHashMap<>();
    private List<String> active = List.of();
    private boolean captureInitialFactors;
    private PlannedQuantization<?> plannedQuantization;

    public PeftModel(AdapterHost host, Function<String, Optional<Initializer>> initializers) {
        this.host = host;
        this.initializers = initializers;
    }

    public AdapterHost host() {
        return host;
    }

    /**
     * The sites an adapter config selects on this model (PEFT matching rules; the method's
     * {@link Adapter#defaultTargets default targets} for this architecture when a linear method names none).
     */
    public List<SiteInfo> resolveSites(Adapter method, AdapterConfig config, String field) {
        return resolveSites(method, config, host.sites(), host.architecture(), field);
    }

    /**
     * {@link #resolveSites(Adapter, AdapterConfig, String)} over a given site list (e.g. from config.json alone) of a
     * model of {@code model_type} {@code architecture}.
     */
    public static List<SiteInfo> resolveSites(Adapter method, AdapterConfig config, List<SiteInfo> sites,
                                              String architecture, String field) {
        TargetSpec spec = config.targetSpec();
        if (spec.isEmpty()) {
            if (!method.siteKinds().contains(SiteKind.LINEAR)) {
                return sites.stream().filter(s -> method.siteKinds().contains(s.kind())).toList();
            }
            spec = TargetSpec.fromPeft(defaultTargets(method, architecture, field), spec.toPeftExcludeModules(),
                    spec.layers(), spec.layersPattern());
        }
        return TargetMatcher.select(spec, sites, method.siteKinds(), field + ".target_modules");
    }

    /** The method's default targets for the architecture; a config error naming the field when it has none. */
    public static List<String> defaultTargets(Adapter method, String architecture, String field) {
        List<String> targets = method.defaultTargets(architecture);
        if (targets.isEmpty()) {
            throw new ConfigException(field + ".target_modules", "required: method '" + method.method()
                    + "' has no default target modules for model_type '" + architecture + "'; name the layers to "
                    + "adapt, e.g. [q_proj, v_proj] or all-linear");
        }
        return targets;
    }

    /**
     * Validates and creates an adapter and attaches it (inactive until {@link #setActive}). The engine's generator
     * is seeded with {@code seed} first so initialisation is reproducible.
     */
    public AttachedAdapter addAdapter(String name, Adapter method, AdapterConfig config, long seed) {
        if (adapters.containsKey(name)) {
            throw new ConfigException("name", "an adapter named \"" + name + "\" is already loaded");
        }
        String field = "adapters." + name;
        List<SiteInfo> sites = resolveSites(method, config, field);
        BaseTrainingOptions.check(config, host.sites(), sites);
        method.validate(config, sites, host.shape());
        Engine.getInstance().setRandomSeed((int) seed);
        NDManager m = host.manager().newSubManager();
        AdapterInstance instance;
        try {
            instance = method.create(name, config, sites, new PlatformAdapterContext(host, m, initializers, seed,
                    plannedQuantization));
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
        for (Map.Entry<String, ? extends SiteModule> e : instance.modules().entrySet()) {
            SiteModule module = e.getValue();
            if (module.site().kind() == SiteKind.LINEAR) {
                if (!(module instanceof LinearSiteModule l)) {
                    m.close();
                    throw new IllegalStateException("method " + method.method() + " returned a "
                            + module.getClass().getName() + " for linear site " + e.getKey());
                }
                host.linear(e.getKey()).attach(name, l);
            } else {
                host.attachSiteModule(name, module);
            }
        }
        AttachedAdapter attached = new AttachedAdapter(method, instance, sites);
        adapters.put(name, attached);
        managers.put(name, m);
        if (captureInitialFactors && initializerOf(config, initializers).map(Initializer::rewritesBase).orElse(false)) {
            initialFactors.put(name, snapshot(instance));
        }
        return attached;
    }

    /**
     * When on, {@link #addAdapter} keeps a copy of the freshly initialised factors {@code (A0, B0)} of every adapter
     * whose {@code init_lora_weights} names an installed {@link Initializer} that {@link Initializer#rewritesBase
     * rewrites the base weight} (PiSSA, MiLoRA), so that {@link PissaConversion} can later save a plain LoRA adapter for the original base weights.
     * Off by default: the copies cost as much memory as the adapter itself. Affects adapters added afterwards.
     */
    public void captureInitialFactors(boolean on) {
        this.captureInitialFactors = on;
    }

    /**
     * The quantization the base will get after adapters are added (null: none); offered to initializers through
     * {@link io.peft4j.api.AdapterContext#plannedQuantization()} (LoftQ). Affects adapters added afterwards.
     */
    public void setPlannedQuantization(PlannedQuantization<?> planned) {
        this.plannedQuantization = planned;
    }

    /**
     * The factors {@code (A0, B0, s)} per module path captured right after the named adapter was initialised, if
     * {@link #captureInitialFactors capturing} was on and an initializer plugin initialised it.
     */
    public Optional<Map<String, LowRankUpdate>> initialFactors(String name) {
        return Optional.ofNullable(initialFactors.get(name));
    }

    /** The installed initializer of the adapter, if any (see {@link #initializerOf(AdapterConfig, Function)}). */
    public Optional<Initializer> initializerOf(String name) {
        return initializerOf(adapter(name).instance().config(), initializers);
    }

    /**
     * The installed initializer a low-rank config's {@link io.peft4j.api.LowRankSettings#initializer()} names
     * (PEFT's {@code init_lora_weights}), if it names one; empty for other configs and built-in initialisations.
     */
    public static Optional<Initializer> initializerOf(AdapterConfig config,
                                                      Function<String, Optional<Initializer>> initializers) {
        return config instanceof LowRankConfig l
                ? initializers.apply(l.lowRank().initializer().toLowerCase(java.util.Locale.ROOT)) : Optional.empty();
    }

    /** Copies of the factors of every low-rank module (in the adapter's manager, freed with it). */
    private static Map<String, LowRankUpdate> snapshot(AdapterInstance instance) {
        Map<String, LowRankUpdate> out = new LinkedHashMap<>();
        instance.modules().forEach((path, module) -> {
            if (module instanceof LowRankSite l) {
                out.put(path, new LowRankUpdate(l.loraA().duplicate(), l.loraB().duplicate(), l.scaling()));
            }
        });
        return out;
    }

    /**
     * Adapters active together must be able to stack where they share a module ({@link Adapter#canShareSite}).
     * Loading several adapters on one module for switching is always allowed; only activating them together is
     * checked.
     */
    private void checkStacking(List<String> names) {
        for (int i = 0; i < names.size(); i++) {
            AttachedAdapter x = adapters.get(names.get(i));
            for (int j = 0; j < i; j++) {
                AttachedAdapter y = adapters.get(names.get(j));
                for (SiteInfo s : x.sites()) {
                    boolean shared = y.sites().stream().anyMatch(o -> o.path().equals(s.path()) && o.kind() == s.kind());
                    if (shared && (!x.method().canShareSite(y.method().method())
                            || !y.method().canShareSite(x.method().method()))) {
                        throw new ConfigException("adapters", "adapter '" + x.name() + "' (" + x.method().method()
                                + ") and adapter '" + y.name() + "' (" + y.method().method() + ") both act on "
                                + s.path() + ", and these methods cannot stack on one module");
                    }
                }
            }
        }
    }

    /** Activates the named adapters (in order); an empty list disables all adapters. */
    public void setActive(List<String> names) {
        for (String n : names) {
            if (!adapters.containsKey(n)) {
                throw new ConfigException("adapter", "\"" + n + "\" is not loaded; loaded adapters: "
                        + adapters.keySet());
            }
        }
        checkStacking(names);
        active = List.copyOf(names);
        host.setActiveAdapters(active);
    }

    public List<String> active() {
        return active;
    }

    /**
     * A mixed-batch assignment (PEFT's {@code adapter_names}): one loaded adapter name per batch row, {@code null}
     * for the base model. Pass it in the forward context ({@code PlatformForwardContext.eval(manager, rows)}); it
     * then replaces the active list for that pass. Refused for methods that do not {@link
     * Adapter#supportsMixedBatch support it} (DoRA, as in PEFT), while adapters are merged, and for adapters with
     * non-linear modules (prompt/prefix/bottleneck), which the platform cannot apply per row yet.
     */
    public RowAdapters rowAdapters(List<String> perRow) {
        for (String n : new java.util.LinkedHashSet<>(perRow)) {
            if (n == null) {
                continue;
            }
            AttachedAdapter a = adapters.get(n);
            if (a == null) {
                throw new ConfigException("adapter_names", "\"" + n + "\" is not loaded; loaded adapters: "
                        + adapters.keySet());
            }
            for (SiteInfo s : a.sites()) {
                if (s.kind() != SiteKind.LINEAR) {
                    throw new ConfigException("adapter_names", "adapter '" + n + "' (method " + a.method().method()
                            + ") has a " + s.kind() + " module at " + s.path() + "; mixed batches support adapters "
                            + "on linear layers only");
                }
            }
            if (!a.method().supportsMixedBatch()) {
                throw new ConfigException("adapter_names", "adapter '" + n + "' (method " + a.method().method()
                        + ") cannot be used in mixed batches (the method does not support per-row adapters)");
            }
        }
        for (SiteInfo s : host.sites()) {
            if (s.kind() == SiteKind.LINEAR && !host.linear(s.path()).mergedAdapters().isEmpty()) {
                throw new ConfigException("adapter_names", "adapters " + host.linear(s.path()).mergedAdapters()
                        + " are merged into " + s.path() + "; unmerge them before running a mixed batch");
            }
        }
        return new RowAdapters(perRow);
    }

    public Map<String, AttachedAdapter> adapters() {
        return java.util.Collections.unmodifiableMap(adapters);
    }

    public AttachedAdapter adapter(String name) {
        AttachedAdapter a = adapters.get(name);
        if (a == null) {
            throw new ConfigException("adapter", "\"" + name + "\" is not loaded; loaded adapters: "
                    + adapters.keySet());
        }
        return a;
    }

    /** Removes an adapter and frees its tensors (unmerge it first if merged). */
    public void deleteAdapter(String name) {
        AttachedAdapter a = adapter(name);
        for (SiteInfo s : a.sites()) {
            if (s.kind() == SiteKind.LINEAR) {
                host.linear(s.path()).detach(name);
            }
        }
        host.detachSiteModules(name);
        adapters.remove(name);
        initialFactors.remove(name);
        managers.remove(name).close();
        if (active.contains(name)) {
            List<String> rest = new ArrayList<>(active);
            rest.remove(name);
            setActive(rest);
        }
    }

    /** Trainable parameters of the active adapters. */
    public List<Parameter> trainableParameters() {
        List<Parameter> out = new ArrayList<>();
        for (String n : active) {
            adapters.get(n).instance().parameters().stream().filter(Parameter::trainable).forEach(out::add);
        }
        return out;
    }

    /** Sum of the active adapters' auxiliary losses (e.g. AdaLoRA's orthogonal regulariser), if any. */
    public Optional<NDArray> auxiliaryLoss(ForwardContext ctx) {
        NDArray total = null;
        for (String n : active) {
            Optional<NDArray> l = adapters.get(n).instance().auxiliaryLoss(ctx);
            if (l.isPresent()) {
                total = total == null ? l.get() : total.add(l.get());
            }
        }
        return Optional.ofNullable(total);
    }

    /** Folds the named adapter into the base weights of every linear site it has. */
    public void merge(String name) {
        AttachedAdapter a = adapter(name);
        for (SiteInfo s : a.sites()) {
            if (s.kind() != SiteKind.LINEAR) {
                throw new ConfigException("merge", "adapter '" + name + "' (method " + a.method().method()
                        + ") has non-linear sites such as " + s.path() + " and cannot be merged into weights");
            }
        }
        for (SiteInfo s : a.sites()) {
            host.linear(s.path()).merge(name);
        }
    }

    /** Unmerges everything merged, in reverse order. */
    public void unmergeAll() {
        for (SiteInfo s : host.sites()) {
            if (s.kind() == SiteKind.LINEAR) {
                AdaptableLinear l = host.linear(s.path());
                if (!l.mergedAdapters().isEmpty()) {
                    l.unmergeAll();
                }
            }
        }
    }

    /** Number of elements in the trainable parameters of one adapter. */
    public static long trainableCount(AdapterInstance instance) {
        return instance.parameters().stream().filter(Parameter::trainable)
                .mapToLong(p -> p.value().getShape().size()).sum();
    }
}
