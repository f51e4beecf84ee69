package io.peft4j.serve.engine;

import io.peft4j.api.ConfigException;
import io.peft4j.api.Merger;
import io.peft4j.api.SiteInfo;
import io.peft4j.api.SiteKind;
import io.peft4j.core.peft.AdapterArithmetic;
import io.peft4j.core.peft.AdapterFiles;
import io.peft4j.core.peft.AttachedAdapter;
import io.peft4j.core.peft.PeftModel;
import io.peft4j.core.peft.PlainLowRank;
import io.peft4j.core.plugin.InstalledExtensions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Loading, combining and deleting adapters while the server runs. Every change to the model happens on the engine
 * thread between decode steps, so running requests see the model as it was; a deleted adapter disappears from
 * {@code /v1/models} at once and its tensors are freed when the last request using it ends.
 */
public final class AdapterLifecycle {
    private final BatchEngine engine;
    private final InstalledExtensions ext;
    private final Path allowedRoot;   // null: no loading over HTTP

    /** @param allowedRoot directory that adapter paths given over HTTP must lie in (null: loading over HTTP is off) */
    public AdapterLifecycle(BatchEngine engine, InstalledExtensions ext, Path allowedRoot) {
        this.engine = engine;
        this.ext = ext;
        try {
            this.allowedRoot = allowedRoot == null ? null : allowedRoot.toRealPath();
        } catch (IOException e) {
            throw new ConfigException("--adapter-root", allowedRoot + " does not exist or cannot be read");
        }
    }

    /**
     * Resolves an adapter path given over HTTP (relative to the allowed root, or absolute) and refuses paths that
     * leave the root, following symbolic links.
     */
    public Path resolveAllowed(String path) {
        if (allowedRoot == null) {
            throw new ServeException(403, "invalid_request_error", "adapter_loading_disabled", "path",
                    "loading adapters over HTTP is off: start the server with --adapter-root DIR");
        }
        if (path == null || path.isBlank()) {
            throw ServeException.invalid("path", "required: the adapter directory (PEFT format), relative to the "
                    + "adapter root");
        }
        Path real;
        try {
            real = allowedRoot.resolve(path).normalize().toRealPath();
        } catch (IOException | java.nio.file.InvalidPathException e) {
            throw new ServeException(404, "invalid_request_error", "adapter_not_found", "path",
                    "adapter directory \"" + path + "\" does not exist under the adapter root");
        }
        if (!real.startsWith(allowedRoot)) {
            throw new ServeException(403, "invalid_request_error", "path_not_allowed", "path",
                    "adapter path \"" + path + "\" is outside the adapter root; only directories under it may be "
                            + "loaded");
        }
        if (!Files.isDirectory(real)) {
            throw ServeException.invalid("path", "\"" + path + "\" is not a directory");
        }
        return real;
    }

    /**
     * Loads a PEFT adapter directory (or a saved composition: one adapter per sub-directory, named
     * {@code name.sub}) and serves it.
     *
     * @return the names now served
     */
    public List<ServedModels.Info> load(String name, Path dir) {
        checkName(name);
        return engine.onEngineThread(() -> {
            PeftModel peft = engine.peft();
            List<String> names;
            try {
                names = AdapterFiles.loadComposition(peft, ext, dir, name, 0).names();
            } catch (ConfigException e) {
                throw ServeException.invalid("path", e.getMessage());
            }
            List<ServedModels.Info> out = new ArrayList<>();
            for (String n : names) {
                out.add(serve(peft, n, "adapter", dir.toString(), names));
            }
            return out;
        });
    }

    /**
     * Builds a new LoRA adapter from served ones, as PEFT's {@code add_weighted_adapter} (e.g. {@code cat}: the
     * sum of their updates), and serves it under {@code name}.
     */
    public ServedModels.Info combine(String name, List<String> adapters, List<Double> weights, String type,
                                     String mergerId, Map<String, Object> options) {
        checkName(name);
        return engine.onEngineThread(() -> {
            for (String a : adapters) {
                if (engine.models().info(a) == null) {
                    throw ServeException.invalid("combine.adapters", "\"" + a + "\" is not a served adapter");
                }
            }
            Merger<?> merger = ext.merger(mergerId).orElseThrow(() -> ServeException.invalid("combine.merger",
                    "no installed plugin provides merger '" + mergerId + "'; installed: " + ext.mergers().keySet()));
            PeftModel peft = engine.peft();
            try {
                AdapterArithmetic.addWeighted(peft, merger, adapters, weights, name,
                        type, options, 0);
            } catch (ConfigException e) {
                throw ServeException.invalid("combine." + e.field(), e.getMessage());
            }
            return serve(peft, name, "combination", type + " of " + adapters + " weights " + weights, List.of(name));
        });
    }

    /**
     * Stops serving an adapter: new requests no longer find it, running ones finish with it.
     *
     * @throws ServeException 404 if it is not served
     */
    public void delete(String name) {
        if (!engine.unregister(name)) {
            throw new ServeException(404, "invalid_request_error", "model_not_found", "name",
                    "no adapter named \"" + name + "\" is served");
        }
    }

    private void checkName(String name) {
        if (name == null || !name.matches("[A-Za-z0-9_.\\-]{1,64}")) {
            throw ServeException.invalid("name", "required: 1-64 letters, digits, '_', '-' or '.' (no '+', which "
                    + "joins adapters in a request's model), got " + (name == null ? "nothing" : "\"" + name + "\""));
        }
        if (!engine.models().isFree(name)) {
            throw new ServeException(409, "invalid_request_error", "model_exists", "name",
                    "a model named \"" + name + "\" is already served; delete it first or choose another name");
        }
    }

    /** Checks a freshly loaded adapter can be served and registers it (engine thread). */
    private ServedModels.Info serve(PeftModel peft, String name, String kind, String source, List<String> batch) {
        AttachedAdapter a = peft.adapter(name);
        for (SiteInfo s : a.sites()) {
            if (s.kind() != SiteKind.LINEAR) {
                for (String n : batch) {
                    if (peft.adapters().containsKey(n) && engine.models().info(n) == null) {
                        peft.deleteAdapter(n);
                    }
                }
                throw ServeException.invalid("path", "adapter '" + name + "' (method " + a.method().method()
                        + ") has a " + s.kind() + " module at " + s.path() + "; the server runs adapters on linear "
                        + "layers only (LoRA family, IA3, VeRA, DoRA, ...), whose rows can share a KV-cached batch");
            }
        }
        // A method without per-row support (DoRA) is batched only with requests for the same adapter.
        boolean mixed = a.method().supportsMixedBatch();
        // Plain low-rank (LoRA without lora_bias): the mixed batch can run it through the stacked path.
        boolean plain = mixed && PlainLowRank.test(a.instance());
        ServedModels.Info info = new ServedModels.Info(name, kind, a.method().method(), source, mixed, plain);
        engine.register(info);
        return info;
    }
}
