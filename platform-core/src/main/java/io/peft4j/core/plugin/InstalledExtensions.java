package io.peft4j.core.plugin;

import io.peft4j.api.Adapter;
import io.peft4j.api.ConfigException;
import io.peft4j.api.Initializer;
import io.peft4j.api.Merger;
import io.peft4j.api.OptimizerPolicy;
import io.peft4j.api.Quantizer;
import io.peft4j.api.RankAllocator;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.pf4j.ExtensionPoint;

/**
 * The extensions of the started plugins, one cached instance each, indexed by kind and id. PF4J's
 * {@code getExtensions} creates new instances on every call; this registry is built once when the runtime starts,
 * so every caller sees the same (stateless, thread-safe) extension objects.
 *
 * <p>Ids are unique per kind: an adapter is keyed by {@link Adapter#method()}, every other kind by its
 * {@code id()}. When two plugins claim the same id, the first registered keeps it (platform classpath first, then
 * plugins in ascending plugin-id order) and the second is rejected with a
 * {@link PluginProblem.Kind#DUPLICATE_EXTENSION_ID} problem in the {@link PluginReport}.
 *
 * <p>Immutable and thread-safe.
 */
public final class InstalledExtensions {

    private final Map<ExtensionKind<?>, Map<String, InstalledExtension<?>>> byKind;

    InstalledExtensions(Map<ExtensionKind<?>, Map<String, InstalledExtension<?>>> byKind) {
        Map<ExtensionKind<?>, Map<String, InstalledExtension<?>>> copy = new LinkedHashMap<>();
        for (ExtensionKind<?> kind : ExtensionKind.ALL) {
            copy.put(kind, Collections.unmodifiableMap(new LinkedHashMap<>(byKind.getOrDefault(kind, Map.of()))));
        }
        this.byKind = Collections.unmodifiableMap(copy);
    }

    /** A registry with nothing installed. */
    public static InstalledExtensions empty() {
        return new InstalledExtensions(Map.of());
    }

    // ---- generic access ----

    /** The registered extension of {@code kind} with {@code id}. */
    @SuppressWarnings("unchecked")
    public <T extends ExtensionPoint> Optional<InstalledExtension<T>> find(ExtensionKind<T> kind, String id) {
        return Optional.ofNullable((InstalledExtension<T>) byKind.get(kind).get(id));
    }

    /** All registered extensions of {@code kind}, in registration order. */
    @SuppressWarnings("unchecked")
    public <T extends ExtensionPoint> List<InstalledExtension<T>> all(ExtensionKind<T> kind) {
        List<InstalledExtension<T>> out = new ArrayList<>();
        for (InstalledExtension<?> e : byKind.get(kind).values()) {
            out.add((InstalledExtension<T>) e);
        }
        return Collections.unmodifiableList(out);
    }

    /** Every registered extension of every kind. */
    public List<InstalledExtension<?>> all() {
        List<InstalledExtension<?>> out = new ArrayList<>();
        byKind.values().forEach(m -> out.addAll(m.values()));
        return Collections.unmodifiableList(out);
    }

    /** The extensions contributed by one plugin. */
    public List<InstalledExtension<?>> contributedBy(String pluginId) {
        return all().stream().filter(e -> pluginId.equals(e.pluginId())).toList();
    }

    /** The plugin that contributed the extension of {@code kind} with {@code id}; empty if none or the platform. */
    public Optional<String> contributor(ExtensionKind<?> kind, String id) {
        InstalledExtension<?> e = byKind.get(kind).get(id);
        return e == null ? Optional.empty() : e.plugin();
    }

    /** The ids registered for {@code kind}, in registration order. */
    public List<String> ids(ExtensionKind<?> kind) {
        return List.copyOf(byKind.get(kind).keySet());
    }

    // ---- adapters ----

    /** The adapter whose {@link Adapter#method()} is {@code method}. */
    public Optional<Adapter> adapter(String method) {
        return find(ExtensionKind.ADAPTER, method).map(InstalledExtension::extension);
    }

    /**
     * The adapter for {@code method}, or a {@link ConfigException} on field {@code method} listing the installed
     * methods.
     */
    public Adapter requireAdapter(String method) {
        return adapter(method).orElseThrow(() -> new ConfigException("method",
                "no installed plugin provides PEFT method '" + method + "'; installed methods: "
                        + listOrNone(ids(ExtensionKind.ADAPTER))
                        + " (see `peft4j plugins` for plugins that failed to load)"));
    }

    /** Adapters by method id. */
    public Map<String, Adapter> adapters() {
        return instances(ExtensionKind.ADAPTER);
    }

    // ---- initializers ----

    /** The initializer with this id. */
    public Optional<Initializer> initializer(String id) {
        return find(ExtensionKind.INITIALIZER, id).map(InstalledExtension::extension);
    }

    /**
     * The first registered initializer that {@link Initializer#handles handles} an {@code init_lora_weights}
     * value such as {@code pissa_niter_4}.
     */
    public Optional<Initializer> initializerFor(String initName) {
        return all(ExtensionKind.INITIALIZER).stream().map(InstalledExtension::extension)
                .filter(i -> i.handles(initName)).findFirst();
    }

    /** Initializers by id. */
    public Map<String, Initializer> initializers() {
        return instances(ExtensionKind.INITIALIZER);
    }

    // ---- the other kinds ----

    public Optional<RankAllocator<?>> rankAllocator(String id) {
        return find(ExtensionKind.RANK_ALLOCATOR, id).map(InstalledExtension::extension);
    }

    public Map<String, RankAllocator<?>> rankAllocators() {
        return instances(ExtensionKind.RANK_ALLOCATOR);
    }

    public Optional<Quantizer<?>> quantizer(String id) {
        return find(ExtensionKind.QUANTIZER, id).map(InstalledExtension::extension);
    }

    public Map<String, Quantizer<?>> quantizers() {
        return instances(ExtensionKind.QUANTIZER);
    }

    public Optional<Merger<?>> merger(String id) {
        return find(ExtensionKind.MERGER, id).map(InstalledExtension::extension);
    }

    public Map<String, Merger<?>> mergers() {
        return instances(ExtensionKind.MERGER);
    }

    public Optional<OptimizerPolicy<?>> optimizerPolicy(String id) {
        return find(ExtensionKind.OPTIMIZER_POLICY, id).map(InstalledExtension::extension);
    }

    public Map<String, OptimizerPolicy<?>> optimizerPolicies() {
        return instances(ExtensionKind.OPTIMIZER_POLICY);
    }

    private <T extends ExtensionPoint> Map<String, T> instances(ExtensionKind<T> kind) {
        Map<String, T> out = new LinkedHashMap<>();
        for (InstalledExtension<T> e : all(kind)) {
            out.put(e.id(), e.extension());
        }
        return Collections.unmodifiableMap(out);
    }

    private static String listOrNone(List<String> ids) {
        return ids.isEmpty() ? "none" : String.join(", ", ids);
    }
}
