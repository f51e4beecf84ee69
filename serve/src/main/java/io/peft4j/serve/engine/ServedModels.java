package io.peft4j.serve.engine;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/**
 * The names a request's {@code model} may use: {@code base} (also the base model's id), every loaded adapter, and
 * {@code a+b} lists of adapters active together. Counts the requests using each adapter, so that an adapter deleted
 * while requests run is only freed once they are done. Thread-safe: HTTP threads resolve names, the engine thread
 * adds and removes entries.
 */
public final class ServedModels {
    /** The name that selects the base model without adapters. */
    public static final String BASE = "base";

    private final String baseId;
    private final Map<String, Entry> entries = new LinkedHashMap<>();

    /** A listed model: the base, a loaded adapter, or a combination built at load time. */
    public record Info(String id, String kind, String method, String source, boolean mixedBatch,
                       boolean plainLowRank) {
    }

    private static final class Entry {
        final Info info;
        int inUse;
        boolean removing;

        Entry(Info info) {
            this.info = info;
        }
    }

    /**
     * A resolved {@code model}: the adapters to apply (empty: base). Requests whose selection is
     * {@link #mixedBatch} share one batch whatever their adapter (one adapter or none per row); the others (several
     * adapters stacked, or a method the mixed batch cannot run, such as DoRA) batch with requests of the same
     * {@link #groupKey} only.
     */
    public record Selection(String model, List<String> adapters, boolean mixedBatch) {
        /** The single adapter of a mixed-batch row, or null for the base. */
        public String rowAdapter() {
            return adapters.isEmpty() ? null : adapters.get(0);
        }

        public String groupKey() {
            return mixedBatch ? "" : String.join("+", adapters);
        }
    }

    public ServedModels(String baseId) {
        this.baseId = baseId;
    }

    public String baseId() {
        return baseId;
    }

    synchronized void add(Info info) {
        if (entries.containsKey(info.id()) || info.id().equals(BASE) || info.id().equals(baseId)) {
            throw ServeException.invalid("name", "a model named \"" + info.id() + "\" is already served");
        }
        entries.put(info.id(), new Entry(info));
    }

    /** True when {@code name} is free to use for a new adapter. */
    public synchronized boolean isFree(String name) {
        return !entries.containsKey(name) && !name.equals(BASE) && !name.equals(baseId);
    }

    /** Everything a client may name now (the base first), without adapters being deleted. */
    public synchronized List<Info> list() {
        List<Info> out = new ArrayList<>();
        out.add(new Info(BASE, "base", null, baseId, true, false));
        entries.values().stream().filter(e -> !e.removing).forEach(e -> out.add(e.info));
        return out;
    }

    /** Every served adapter (also those being deleted) whose update is a plain {@code s · B A}. */
    synchronized java.util.Set<String> plainLowRank() {
        java.util.Set<String> out = new java.util.HashSet<>();
        entries.values().stream().filter(e -> e.info.plainLowRank()).forEach(e -> out.add(e.info.id()));
        return out;
    }

    /** The loaded adapter called {@code name}, if any (also while it is being deleted). */
    public synchronized Info info(String name) {
        Entry e = entries.get(name);
        return e == null ? null : e.info;
    }

    /**
     * Resolves a request's {@code model} and counts the request as a user of its adapters until {@link #release}.
     *
     * @throws ServeException 404 for unknown names (listing what is served), 400 for a malformed list
     */
    public synchronized Selection acquire(String model) {
        if (model == null || model.isBlank()) {
            throw ServeException.invalid("model", "you must provide a model parameter: \"base\" or an adapter name "
                    + "(GET /v1/models lists them)");
        }
        if (model.equals(BASE) || model.equals(baseId)) {
            return new Selection(model, List.of(), true);
        }
        List<String> names = new ArrayList<>();
        for (String part : model.split("\\+", -1)) {
            String n = part.strip();
            Entry e = entries.get(n);
            if (e == null || e.removing) {
                throw ServeException.modelNotFound("The model `" + model + "` does not exist"
                        + (model.contains("+") ? " (unknown adapter \"" + n + "\")" : "")
                        + "; served models: " + list().stream().map(Info::id).toList()
                        + ", or several adapters joined with '+'");
            }
            names.add(n);
        }
        if (new LinkedHashSet<>(names).size() != names.size()) {
            throw ServeException.invalid("model", "an adapter is listed twice in \"" + model + "\"");
        }
        for (String n : names) {
            entries.get(n).inUse++;
        }
        boolean mixed = names.size() == 1 && entries.get(names.get(0)).info.mixedBatch();
        return new Selection(model, List.copyOf(names), mixed);
    }

    /** Ends a request's use of its adapters. */
    public synchronized void release(Selection s) {
        for (String n : s.adapters()) {
            Entry e = entries.get(n);
            if (e != null) {
                e.inUse--;
            }
        }
    }

    /**
     * Hides an adapter from new requests.
     *
     * @return false if no such adapter is served
     */
    synchronized boolean markRemoving(String name) {
        Entry e = entries.get(name);
        if (e == null || e.removing) {
            return false;
        }
        e.removing = true;
        return true;
    }

    /** Adapters marked for removal that no request uses any more; they are dropped from the registry. */
    synchronized List<String> takeRemovable() {
        List<String> out = new ArrayList<>();
        entries.entrySet().removeIf(en -> {
            if (en.getValue().removing && en.getValue().inUse == 0) {
                out.add(en.getKey());
                return true;
            }
            return false;
        });
        return out;
    }

    /** Requests now using the named adapter. */
    public synchronized int inUse(String name) {
        Entry e = entries.get(name);
        return e == null ? 0 : e.inUse;
    }
}
