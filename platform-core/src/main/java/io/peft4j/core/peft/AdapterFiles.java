package io.peft4j.core.peft;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.peft4j.api.Adapter;
import io.peft4j.api.AdapterConfig;
import io.peft4j.api.ConfigException;
import io.peft4j.core.io.AtomicDirectory;
import io.peft4j.core.io.SafetensorsReader;
import io.peft4j.core.io.SafetensorsWriter;
import io.peft4j.core.plugin.InstalledExtensions;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Adapter directories in Hugging Face PEFT's format: {@code adapter_config.json} plus
 * {@code adapter_model.safetensors} with PEFT's key names; adapter {@code default} at the top level and every other
 * adapter in a sub-directory named after it (PEFT's {@code save_pretrained} layout), so PEFT loads what we write and
 * we load what PEFT writes. A small {@code peft4j.json} manifest records the composition (which adapters, which
 * methods, which are active), which PEFT ignores.
 *
 * <p>Directories are written to a temporary sibling and renamed into place; the previous content is only removed
 * after the new one is complete, so an interrupted save never replaces a good adapter with a half-written one.
 */
public final class AdapterFiles {
    public static final String CONFIG_FILE = "adapter_config.json";
    public static final String WEIGHTS_FILE = "adapter_model.safetensors";
    public static final String MANIFEST_FILE = "peft4j.json";
    public static final String DEFAULT_NAME = "default";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
            .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS);

    private AdapterFiles() {
    }

    /** Saves the given adapters of {@code model} into {@code dir} (replacing it atomically). */
    public static void save(PeftModel model, List<String> names, Path dir, String baseModelName) {
        save(model, names, dir, baseModelName, false);
    }

    /**
     * Saves the given adapters; with {@code convertToLora}, every adapter whose initial factors were captured
     * ({@link PeftModel#initialFactors}, i.e. initialised by PiSSA, MiLoRA ...) is written as the equivalent plain
     * LoRA adapter for the original base weights ({@link PissaConversion}); the others are written as they are.
     */
    public static void save(PeftModel model, List<String> names, Path dir, String baseModelName,
                            boolean convertToLora) {
        try {
            AtomicDirectory.write(dir, tmp -> {
                List<Map<String, Object>> manifest = new ArrayList<>();
                for (String name : names) {
                    AttachedAdapter a = model.adapter(name);
                    Path sub = name.equals(DEFAULT_NAME) ? tmp : tmp.resolve(name);
                    Files.createDirectories(sub);
                    boolean convert = convertToLora && model.initialFactors(name).isPresent();
                    if (convert) {
                        writeConverted(a, model.initialFactors(name).get(), sub, baseModelName, model);
                    } else {
                        writeOne(a, sub, baseModelName);
                    }
                    Map<String, Object> entry = new LinkedHashMap<>();
                    entry.put("name", name);
                    entry.put("method", a.method().method());
                    entry.put("peft_type", a.method().peftType());
                    entry.put("path", name.equals(DEFAULT_NAME) ? "." : name);
                    entry.put("trainable_parameters", PeftModel.trainableCount(a.instance()));
                    if (convert) {
                        entry.put("converted_to_lora", true);
                    }
                    manifest.add(entry);
                }
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("format", "peft4j-composition/1");
                m.put("base_model", baseModelName);
                m.put("adapters", manifest);
                m.put("active", model.active());
                Files.writeString(tmp.resolve(MANIFEST_FILE), JSON.writeValueAsString(m));
            });
        } catch (IOException e) {
            throw new UncheckedIOException("cannot save adapters to " + dir.toAbsolutePath() + ": " + e.getMessage(), e);
        }
    }

    /**
     * Saves one adapter at the top level of {@code dir} (replacing it atomically), whatever its name, so the
     * directory is a plain PEFT adapter directory (e.g. the result of {@code peft4j merge --combine}).
     */
    public static void saveOne(PeftModel model, String name, Path dir, String baseModelName) {
        try {
            AtomicDirectory.write(dir, tmp -> writeOne(model.adapter(name), tmp, baseModelName));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot save adapter '" + name + "' to " + dir.toAbsolutePath() + ": "
                    + e.getMessage(), e);
        }
    }

    private static void writeOne(AttachedAdapter a, Path dir, String baseModelName) throws IOException {
        Map<String, Object> cfg = AdapterConfigCodec.toPeftJson(a.method(), a.instance().config(), baseModelName);
        Files.writeString(dir.resolve(CONFIG_FILE), JSON.writeValueAsString(cfg));
        SafetensorsWriter.write(dir.resolve(WEIGHTS_FILE), a.instance().stateDict(), Map.of("format", "pt"));
    }

    private static void writeConverted(AttachedAdapter a, Map<String, io.peft4j.api.LowRankUpdate> initial, Path dir,
                                       String baseModelName, PeftModel model) throws IOException {
        try (NDManager tmp = model.host().manager().newSubManager()) {
            io.peft4j.api.Initializer init = model.initializerOf(a.name()).orElseThrow(() -> new IllegalStateException(
                    "adapter '" + a.name() + "' has initial factors but no installed initializer"));
            PissaConversion.Converted c = PissaConversion.convert(a, init, initial, baseModelName, tmp);
            Files.writeString(dir.resolve(CONFIG_FILE), JSON.writeValueAsString(c.config()));
            SafetensorsWriter.write(dir.resolve(WEIGHTS_FILE), c.stateDict(), Map.of("format", "pt"));
        }
    }

    /** The adapter names stored in a directory: {@code default} at the top level plus one per sub-directory. */
    public static List<String> adapterNames(Path dir) {
        List<String> names = new ArrayList<>();
        if (Files.isRegularFile(dir.resolve(CONFIG_FILE))) {
            names.add(DEFAULT_NAME);
        }
        try (Stream<Path> s = Files.list(dir)) {
            s.filter(p -> Files.isRegularFile(p.resolve(CONFIG_FILE))).map(p -> p.getFileName().toString())
                    .sorted().forEach(names::add);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list adapter directory " + dir, e);
        }
        return names;
    }

    /**
     * Loads every adapter of a saved directory (a single PEFT adapter, or a composition: {@code default} at the top
     * level and the others in sub-directories) onto {@code model}.
     *
     * @param prefix prepended to each stored name as {@code prefix.name} (null: the stored names)
     * @return the loaded names, and those the manifest lists as active (all of them without a manifest)
     */
    public static Composition loadComposition(PeftModel model, InstalledExtensions ext, Path dir, String prefix,
                                              long seed) {
        List<String> stored = adapterNames(dir);
        if (stored.isEmpty()) {
            throw new ConfigException(dir.toString(), "holds no adapter: expected " + CONFIG_FILE + " there or in "
                    + "its sub-directories");
        }
        List<String> loaded = new ArrayList<>();
        for (String n : stored) {
            String as = prefix == null ? n : stored.size() == 1 ? prefix : prefix + "." + n;
            load(model, ext, n.equals(DEFAULT_NAME) ? dir : dir.resolve(n), as, seed);
            loaded.add(as);
        }
        List<String> active = new ArrayList<>(loaded);
        Path manifest = dir.resolve(MANIFEST_FILE);
        if (Files.isRegularFile(manifest)) {
            try {
                Map<String, Object> m = JSON.readValue(manifest.toFile(),
                        new TypeReference<LinkedHashMap<String, Object>>() { });
                if (m.get("active") instanceof List<?> names) {
                    active = names.stream().map(String::valueOf).filter(stored::contains)
                            .map(n -> loaded.get(stored.indexOf(n))).toList();
                }
            } catch (IOException e) {
                throw new ConfigException(manifest.toString(), "is not valid JSON: " + e.getMessage());
            }
        }
        return new Composition(loaded, active);
    }

    /** Names loaded from one directory and which of them were active when it was saved. */
    public record Composition(List<String> names, List<String> active) {
    }

    /**
     * Loads one PEFT adapter directory (containing {@code adapter_config.json}) onto {@code model} under
     * {@code name}. The method is chosen by the installed plugin that reads the config's {@code peft_type}; the
     * config is checked against the model's modules and every tensor against the module shapes.
     */
    public static AttachedAdapter load(PeftModel model, InstalledExtensions ext, Path dir, String name, long seed) {
        Path cfgFile = dir.resolve(CONFIG_FILE);
        if (!Files.isRegularFile(cfgFile)) {
            throw new ConfigException(cfgFile.toString(), "not found: an adapter directory must contain "
                    + CONFIG_FILE + " and " + WEIGHTS_FILE);
        }
        Map<String, Object> json;
        try {
            json = JSON.readValue(cfgFile.toFile(), new TypeReference<LinkedHashMap<String, Object>>() { });
        } catch (IOException e) {
            throw new ConfigException(cfgFile.toString(), "is not valid JSON: " + e.getMessage());
        }
        if (!(json.get("peft_type") instanceof String peftType)) {
            throw new ConfigException(cfgFile + ": peft_type", "missing; every PEFT adapter_config.json names its "
                    + "peft_type (e.g. \"LORA\")");
        }
        Adapter method = ext.adapters().values().stream().filter(a -> a.readsPeftConfig(json)).findFirst()
                .orElseThrow(() -> new ConfigException(cfgFile + ": peft_type", "no installed plugin reads \""
                        + peftType + "\"" + (Boolean.TRUE.equals(json.get("use_dora")) ? " with use_dora" : "")
                        + "; installed methods: " + ext.adapters().keySet()));
        AdapterConfig config = AdapterConfigCodec.parseLenient(method, json, cfgFile.toString());
        Path weights = dir.resolve(WEIGHTS_FILE);
        if (!Files.isRegularFile(weights)) {
            throw new ConfigException(weights.toString(), "not found (safetensors adapter weights); legacy "
                    + "adapter_model.bin files are not supported");
        }
        AttachedAdapter attached;
        try {
            attached = model.addAdapter(name, method, config, seed);
        } catch (ConfigException e) {
            throw new ConfigException(cfgFile.toString(), "does not match the model: " + e.getMessage());
        }
        try (SafetensorsReader reader = SafetensorsReader.open(weights);
             NDManager tmp = model.host().manager().newSubManager()) {
            Map<String, NDArray> tensors = reader.readAll(tmp);
            Set<String> used;
            try {
                used = attached.instance().loadStateDict(tensors);
            } catch (ConfigException e) {
                model.deleteAdapter(name);
                throw new ConfigException(weights + ": " + e.field(), e.reason()
                        + " (is this adapter for a different base model?)");
            }
            Set<String> unexpected = new HashSet<>(tensors.keySet());
            unexpected.removeAll(used);
            try {
                unexpected.removeAll(EmbeddingLayerCopies.acceptIdentical(model.host(), tensors, unexpected, weights));
            } catch (ConfigException e) {
                model.deleteAdapter(name);
                throw e;
            }
            if (!unexpected.isEmpty()) {
                model.deleteAdapter(name);
                throw new ConfigException(weights.toString(), unexpected.size() + " tensors do not belong to any "
                        + "module of this adapter on this model, e.g. " + unexpected.stream().sorted().limit(3).toList());
            }
        }
        return attached;
    }

}
