package io.peft4j.core.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.peft4j.api.ConfigException;
import io.peft4j.core.util.Suggestions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Reads a {@link RunConfig} from YAML ({@code .yaml}/{@code .yml}) or JSON, strictly: unknown keys are errors that
 * name the nearest valid key, wrong types name the field, and values are range-checked. Method hyper-parameters
 * are checked later against the installed plugin ({@link RunConfigValidator}).
 */
public final class RunConfigParser {
    static final List<String> ADAPTER_KEYS = List.of("name", "method", "initializer", "rank_allocator");
    private static final ObjectMapper STRICT = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)   // "steps: 1.5" is an error, not 1
            .build();

    private RunConfigParser() {
    }

    public static RunConfig parse(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new ConfigException("", "configuration file " + file + " does not exist");
        } catch (IOException e) {
            throw new ConfigException("", "cannot read configuration file " + file + ": " + e.getMessage());
        }
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        boolean yaml = name.endsWith(".yaml") || name.endsWith(".yml");
        try {
            return parse(text, yaml);
        } catch (ConfigException e) {
            throw new ConfigException(e.field(), e.reason() + " (in " + file + ")");
        }
    }

    public static RunConfig parse(String text, boolean yaml) {
        JsonNode root;
        try {
            root = (yaml ? new YAMLMapper() : new ObjectMapper()).readTree(text);
        } catch (JsonProcessingException e) {
            throw new ConfigException("", "not valid " + (yaml ? "YAML" : "JSON") + ": " + e.getOriginalMessage()
                    + (e.getLocation() != null ? " at line " + e.getLocation().getLineNr() + ", column "
                    + e.getLocation().getColumnNr() : ""));
        }
        if (root == null || root.isMissingNode() || root.isNull()) {
            throw new ConfigException("", "the configuration is empty");
        }
        if (!root.isObject()) {
            throw new ConfigException("", "expected a mapping with sections model, adapters, optimizer, training, "
                    + "data, output; got " + ConfigWording.given(root));
        }
        ObjectNode obj = ((ObjectNode) root).deepCopy();
        JsonNode model = obj.get("model");
        if (model != null && model.isTextual()) {
            // The short form: "model: /path/to/dir" means "model: {path: /path/to/dir}".
            obj.set("model", obj.objectNode().put("path", model.asText()));
        }
        List<RunConfig.AdapterSection> adapters = parseAdapters(obj.remove("adapters"));
        RunConfig base = convert(obj, RunConfig.class, "");
        RunConfig cfg = new RunConfig(base.model(), base.quantization(), adapters, base.optimizer(), base.training(),
                base.data(), base.output(), base.pruning());
        checkRanges(cfg);
        return cfg;
    }

    private static List<RunConfig.AdapterSection> parseAdapters(JsonNode node) {
        if (node == null || node.isNull()) {
            return List.of();
        }
        if (!node.isArray()) {
            throw new ConfigException("adapters", "expected a list of adapters (each a mapping with at least "
                    + "'method'), got " + ConfigWording.given(node));
        }
        List<RunConfig.AdapterSection> out = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (int i = 0; i < node.size(); i++) {
            String field = "adapters[" + i + "]";
            JsonNode a = node.get(i);
            if (!a.isObject()) {
                throw new ConfigException(field, "expected a mapping with at least 'method', got "
                        + ConfigWording.given(a));
            }
            Map<String, Object> all = STRICT.convertValue(a, new TypeReference<LinkedHashMap<String, Object>>() { });
            Object method = all.remove("method");
            if (!(method instanceof String m) || m.isBlank()) {
                throw new ConfigException(field + ".method", "required: the method id of an installed plugin "
                        + "(see 'peft4j plugins')");
            }
            Object nameObj = all.remove("name");
            String name = nameObj == null ? (i == 0 ? "default" : m + "_" + i) : String.valueOf(nameObj);
            if (!name.matches("[A-Za-z0-9_\\-]+")) {
                throw new ConfigException(field + ".name", "must use only letters, digits, '_' and '-', got \""
                        + name + "\"");
            }
            if (!names.add(name)) {
                throw new ConfigException(field + ".name", "adapter name \"" + name + "\" is used twice");
            }
            Object init = all.remove("initializer");
            if (init != null && !(init instanceof String)) {
                throw new ConfigException(field + ".initializer", "expected an initializer id such as pissa, got "
                        + init);
            }
            Object alloc = all.remove("rank_allocator");
            Map<String, Object> allocator = null;
            if (alloc instanceof String s) {
                allocator = new LinkedHashMap<>(Map.of("id", s));
            } else if (alloc instanceof Map<?, ?> mm) {
                allocator = new LinkedHashMap<>();
                for (Map.Entry<?, ?> e : mm.entrySet()) {
                    allocator.put(String.valueOf(e.getKey()), e.getValue());
                }
                if (!(allocator.get("id") instanceof String)) {
                    throw new ConfigException(field + ".rank_allocator.id", "required: the rank allocator id");
                }
            } else if (alloc != null) {
                throw new ConfigException(field + ".rank_allocator", "expected an id or a mapping with 'id', got "
                        + alloc);
            }
            out.add(new RunConfig.AdapterSection(name, (String) method, (String) init, allocator, all));
        }
        return out;
    }

    static <T> T convert(JsonNode node, Class<T> type, String field) {
        try {
            return STRICT.treeToValue(node, type);
        } catch (UnrecognizedPropertyException u) {
            String path = path(u, field);
            List<String> known = u.getKnownPropertyIds().stream().map(String::valueOf).sorted().toList();
            String near = Suggestions.nearest(u.getPropertyName(), known);
            return failUnknown(path, near, known);
        } catch (JsonMappingException j) {
            throw new ConfigException(path(j, field), ConfigWording.reason(j, ConfigWording.at(node, j)));
        } catch (JsonProcessingException e) {
            throw new ConfigException(field, "cannot be read: " + e.getOriginalMessage());
        }
    }

    private static <T> T failUnknown(String path, String near, List<String> known) {
        throw new ConfigException(path, "unknown key" + (near != null ? "; did you mean '" + near + "'?" : "")
                + " Valid keys here: " + known);
    }

    private static String path(JsonMappingException e, String prefix) {
        String p = ConfigWording.path(e);
        return prefix.isEmpty() ? p : prefix + "." + p;
    }

    private static void checkRanges(RunConfig c) {
        if (c.pruning() != null) {
            c.pruning().validate();
        }
        RunConfig.OptimizerSection o = c.optimizer();
        positive("optimizer.lr", o.lr());
        if (o.weightDecay() < 0) {
            throw new ConfigException("optimizer.weight_decay", "must be >= 0, got " + o.weightDecay());
        }
        if (o.betas().size() != 2 || o.betas().stream().anyMatch(b -> b == null || b < 0 || b >= 1)) {
            throw new ConfigException("optimizer.betas", "expected two numbers in [0, 1), got " + o.betas());
        }
        positive("optimizer.eps", o.eps());
        if (o.maxGradNorm() < 0) {
            throw new ConfigException("optimizer.max_grad_norm", "must be >= 0 (0 disables clipping), got "
                    + o.maxGradNorm());
        }
        if (o.policy() != null && !(o.policy().get("id") instanceof String)) {
            throw new ConfigException("optimizer.policy.id", "required: the optimizer policy id (e.g. loraplus)");
        }
        RunConfig.TrainingSection t = c.training();
        if (t.steps() != null && t.steps() < 0) {
            throw new ConfigException("training.steps", "must be >= 0, got " + t.steps());
        }
        if (t.epochs() != null && t.epochs() <= 0) {
            throw new ConfigException("training.epochs", "must be > 0, got " + t.epochs());
        }
        atLeast("training.batch_size", t.batchSize(), 1);
        atLeast("training.grad_accumulation", t.gradAccumulation(), 1);
        atLeast("training.max_seq_len", t.maxSeqLen(), 2);
        atLeast("training.warmup_steps", t.warmupSteps(), 0);
        atLeast("training.eval_every", t.evalEvery(), 0);
        atLeast("training.checkpoint_every", t.checkpointEvery(), 0);
        atLeast("training.keep_checkpoints", t.keepCheckpoints(), 1);
        atLeast("training.log_every", t.logEvery(), 1);
        if (!List.of("constant", "linear", "cosine").contains(t.schedule())) {
            throw new ConfigException("training.schedule", "expected constant, linear or cosine; got \""
                    + t.schedule() + "\"" + nearest(t.schedule(), List.of("constant", "linear", "cosine")));
        }
        RunConfig.DataSection d = c.data();
        if (d.format() != null && !io.peft4j.core.train.data.DataFormat.configNames().contains(d.format())) {
            throw new ConfigException("data.format", "expected one of "
                    + io.peft4j.core.train.data.DataFormat.configNames() + " (or leave it out to detect it per file), "
                    + "got \"" + d.format() + "\"" + nearest(d.format(),
                    io.peft4j.core.train.data.DataFormat.configNames()));
        }
        for (Map.Entry<String, String> e : d.columns().entrySet()) {
            if (!RunConfig.DataSection.FIELDS.contains(e.getKey())) {
                throw new ConfigException("data.columns." + e.getKey(), "not a field the data formats read; "
                        + "expected some of " + RunConfig.DataSection.FIELDS + nearest(e.getKey(),
                        RunConfig.DataSection.FIELDS) + " mapped to your file's column names");
            }
            if (e.getValue() == null || e.getValue().isBlank()) {
                throw new ConfigException("data.columns." + e.getKey(), "expected the name of a column of your file");
            }
        }
        double ef = c.data().evalFraction();
        if (ef < 0 || ef >= 1) {
            throw new ConfigException("data.eval_fraction", "must be in [0, 1), got " + ef);
        }
        checkBestAndEarlyStopping(t, c.data().eval() != null || ef > 0);
        if (c.quantization() != null && (c.quantization().method() == null || c.quantization().method().isBlank())) {
            throw new ConfigException("quantization.method", "required: an installed quantizer id (e.g. nf4)");
        }
    }

    /** Best-eval selection and early stopping need evals to choose from. */
    private static void checkBestAndEarlyStopping(RunConfig.TrainingSection t, boolean evalData) {
        String noEval = "needs eval data: set data.eval (a JSONL file) or data.eval_fraction > 0";
        if (Boolean.TRUE.equals(t.loadBestAtEnd()) && !evalData) {
            throw new ConfigException("training.load_best_at_end", noEval);
        }
        if (t.earlyStoppingPatience() != null) {
            atLeast("training.early_stopping_patience", t.earlyStoppingPatience(), 1);
            if (!evalData) {
                throw new ConfigException("training.early_stopping_patience", noEval);
            }
            if (t.evalEvery() == 0) {
                throw new ConfigException("training.early_stopping_patience", "needs evals during training: set "
                        + "training.eval_every > 0 (got 0: eval only at the end)");
            }
        }
        if (t.earlyStoppingThreshold() < 0) {
            throw new ConfigException("training.early_stopping_threshold", "must be >= 0, got "
                    + t.earlyStoppingThreshold());
        }
    }

    private static String nearest(String v, List<String> options) {
        String n = Suggestions.nearest(v, options);
        return n == null ? "" : "; did you mean '" + n + "'?";
    }

    private static void positive(String field, double v) {
        if (!(v > 0)) {
            throw new ConfigException(field, "must be > 0, got " + v);
        }
    }

    private static void atLeast(String field, int v, int min) {
        if (v < min) {
            throw new ConfigException(field, "must be >= " + min + ", got " + v);
        }
    }


    /** Iterates field names of an object node (helper kept for readability of callers). */
    static Iterator<String> fields(JsonNode n) {
        return n.fieldNames();
    }
}
