package io.peft4j.core.model;

import io.peft4j.api.AttentionKvSiteModule;
import io.peft4j.api.EmbeddingSiteModule;
import io.peft4j.api.SiteInfo;
import io.peft4j.api.SiteKind;
import io.peft4j.api.SiteModule;
import io.peft4j.api.SublayerSiteModule;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The adapter modules attached at the model's non-linear sites ({@link SiteKind#SUBLAYER_OUTPUT},
 * {@link SiteKind#ATTENTION_KV}, {@link SiteKind#INPUT_EMBEDDING}), keyed by site path and adapter name, plus the
 * model-wide ordered list of active adapter names (also used for the linear sites).
 *
 * <p>At every site the active modules are applied in the order of the active list.
 */
public final class SiteHooks {
    private final Map<String, SiteInfo> sites = new HashMap<>();   // "KIND path" -> site
    private final Map<String, Map<String, SiteModule>> modules = new HashMap<>(); // "KIND path" -> adapter -> module
    private volatile List<String> active = List.of();

    /** @param sites the model's sites; only non-linear ones are accepted for attachment here */
    public SiteHooks(List<SiteInfo> sites) {
        for (SiteInfo s : sites) {
            if (s.kind() != SiteKind.LINEAR) {
                this.sites.put(key(s.kind(), s.path()), s);
            }
        }
    }

    private static String key(SiteKind kind, String path) {
        return kind + " " + path;
    }

    /** The adapters applied in forward passes, in application order. */
    public List<String> activeAdapters() {
        return active;
    }

    public void setActiveAdapters(List<String> names) {
        active = List.copyOf(names);
    }

    /**
     * Attaches a sublayer, attention-KV or embedding module at {@code module.site()}.
     *
     * @throws IllegalArgumentException if the module type does not match the site kind or the model has no such site
     * @throws IllegalStateException    if the adapter already has a module there
     */
    public void attach(String adapterName, SiteModule module) {
        SiteKind kind = kindOf(module);
        String path = module.site().path();
        if (module.site().kind() != kind) {
            throw new IllegalArgumentException("adapter '" + adapterName + "': module for " + path + " is a "
                    + module.getClass().getSimpleName() + " but its site kind is " + module.site().kind());
        }
        String k = key(kind, path);
        if (!sites.containsKey(k)) {
            throw new IllegalArgumentException("adapter '" + adapterName + "': the model has no " + kind + " site '"
                    + path + "'");
        }
        Map<String, SiteModule> byName = modules.computeIfAbsent(k, x -> new LinkedHashMap<>());
        if (byName.containsKey(adapterName)) {
            throw new IllegalStateException(path + ": adapter '" + adapterName + "' already has a " + kind + " module");
        }
        byName.put(adapterName, module);
    }

    /** Removes the adapter's module of the given kind at {@code path}; returns it, or null if there was none. */
    public SiteModule detach(String adapterName, SiteKind kind, String path) {
        Map<String, SiteModule> byName = modules.get(key(kind, path));
        return byName == null ? null : byName.remove(adapterName);
    }

    /** Removes every module of the adapter; returns how many were removed. */
    public int detachAll(String adapterName) {
        int n = 0;
        for (Map<String, SiteModule> byName : modules.values()) {
            if (byName.remove(adapterName) != null) {
                n++;
            }
        }
        return n;
    }

    /** All modules attached at a site, by adapter name in attachment order. */
    public Map<String, SiteModule> attached(SiteKind kind, String path) {
        Map<String, SiteModule> m = modules.get(key(kind, path));
        return m == null ? Map.of() : Collections.unmodifiableMap(m);
    }

    /** True when no non-linear module is attached anywhere (the forward pass can skip all lookups). */
    public boolean isEmpty() {
        for (Map<String, SiteModule> m : modules.values()) {
            if (!m.isEmpty()) {
                return false;
            }
        }
        return true;
    }

    public List<SublayerSiteModule> activeSublayer(String path) {
        return activeOf(SiteKind.SUBLAYER_OUTPUT, path, SublayerSiteModule.class);
    }

    public List<AttentionKvSiteModule> activeAttentionKv(String path) {
        return activeOf(SiteKind.ATTENTION_KV, path, AttentionKvSiteModule.class);
    }

    public List<EmbeddingSiteModule> activeEmbedding(String path) {
        return activeOf(SiteKind.INPUT_EMBEDDING, path, EmbeddingSiteModule.class);
    }

    private <T> List<T> activeOf(SiteKind kind, String path, Class<T> type) {
        Map<String, SiteModule> byName = modules.get(key(kind, path));
        if (byName == null || byName.isEmpty()) {
            return List.of();
        }
        List<T> out = new ArrayList<>(1);
        for (String name : active) {
            SiteModule m = byName.get(name);
            if (m != null) {
                out.add(type.cast(m));
            }
        }
        return out;
    }

    private static SiteKind kindOf(SiteModule m) {
        if (m instanceof SublayerSiteModule) {
            return SiteKind.SUBLAYER_OUTPUT;
        }
        if (m instanceof AttentionKvSiteModule) {
            return SiteKind.ATTENTION_KV;
        }
        if (m instanceof EmbeddingSiteModule) {
            return SiteKind.INPUT_EMBEDDING;
        }
        throw new IllegalArgumentException("SiteHooks holds sublayer, attention-KV and embedding modules only, got "
                + m.getClass().getName() + " for " + m.site().path() + " (attach linear modules to the AdaptableLinear)");
    }
}
