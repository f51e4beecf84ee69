package io.peft4j.core.peft;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import io.peft4j.core.config.ConfigWording;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.peft4j.api.Adapter;
import io.peft4j.api.AdapterConfig;
import io.peft4j.api.ConfigException;
import io.peft4j.core.util.Suggestions;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * Converts between a method's {@link AdapterConfig} record and JSON maps. The user's configuration is read
 * strictly (unknown keys are errors naming the nearest valid key); Hugging Face PEFT's {@code adapter_config.json}
 * is read leniently (unknown keys ignored, as PEFT itself does, for forward compatibility).
 */
public final class AdapterConfigCodec {
    private static final ObjectMapper STRICT = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .build();
    private static final ObjectMapper LENIENT = JsonMapper.builder()
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .build();
    private static final ObjectMapper WRITER = JsonMapper.builder()
            .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
            .build();
    /** Keys PEFT writes into every adapter_config.json that are not method hyper-parameters. */
    static final List<String> PEFT_BOOKKEEPING = List.of("peft_type", "inference_mode", "peft_version",
            "auto_mapping", "revision", "task_type", "base_model_name_or_path");

    private AdapterConfigCodec() {
    }

    /** Parses the user's settings for one adapter; {@code field} prefixes error messages (e.g. adapters[0]). */
    public static AdapterConfig parseStrict(Adapter method, Map<String, Object> settings, String field) {
        try {
            AdapterConfig c = STRICT.convertValue(settings, method.configType());
            c.validate();
            return c;
        } catch (IllegalArgumentException e) {
            throw translate(e, method, field, settings);
        } catch (ConfigException e) {
            throw new ConfigException(join(field, e.field()), e.reason());
        }
    }

    /** Parses a saved {@code adapter_config.json} map, ignoring keys the method does not know. */
    public static AdapterConfig parseLenient(Adapter method, Map<String, Object> json, String file) {
        try {
            AdapterConfig c = LENIENT.convertValue(json, method.configType());
            c.validate();
            return c;
        } catch (IllegalArgumentException e) {
            throw translate(e, method, file, json);
        } catch (ConfigException e) {
            throw new ConfigException(join(file, e.field()), e.reason());
        }
    }

    /**
     * The {@code adapter_config.json} content PEFT writes: every config field, plus {@code peft_type},
     * {@code inference_mode: true}, {@code base_model_name_or_path}, {@code task_type}, {@code peft_version};
     * keys sorted.
     */
    public static Map<String, Object> toPeftJson(Adapter method, AdapterConfig config, String baseModel) {
        Map<String, Object> m = WRITER.convertValue(config, new TypeReference<LinkedHashMap<String, Object>>() { });
        Map<String, Object> out = new TreeMap<>(m);
        out.put("peft_type", method.peftType());
        out.put("inference_mode", true);
        out.putIfAbsent("task_type", "CAUSAL_LM");
        if (out.get("task_type") == null) {
            out.put("task_type", "CAUSAL_LM");
        }
        if (baseModel != null && out.get("base_model_name_or_path") == null) {
            out.put("base_model_name_or_path", baseModel);
        }
        out.put("peft_version", "0.17.0");
        return out;
    }

    /** Property names the method's configuration accepts. */
    public static List<String> knownKeys(Adapter method) {
        return STRICT.getSerializationConfig().introspect(STRICT.constructType(method.configType()))
                .findProperties().stream().map(p -> p.getName()).sorted().collect(Collectors.toList());
    }

    private static ConfigException translate(IllegalArgumentException e, Adapter method, String field) {
        return translate(e, method, field, null);
    }

    private static ConfigException translate(IllegalArgumentException e, Adapter method, String field,
                                             Map<String, Object> given) {
        Throwable cause = e.getCause();
        if (cause instanceof UnrecognizedPropertyException u) {
            List<String> known = u.getKnownPropertyIds().stream().map(String::valueOf).toList();
            String near = Suggestions.nearest(u.getPropertyName(), known);
            return new ConfigException(join(field, u.getPropertyName()), "unknown option for method '"
                    + method.method() + "'" + (near != null ? "; did you mean '" + near + "'?" : "")
                    + " Valid options: " + known.stream().sorted().toList());
        }
        if (cause instanceof JsonMappingException j) {
            return new ConfigException(join(field, ConfigWording.path(j)),
                    ConfigWording.reason(j, given == null ? null : ConfigWording.at(given, j)));
        }
        return new ConfigException(field, e.getMessage());
    }

    private static String join(String a, String b) {
        if (a == null || a.isEmpty()) {
            return b;
        }
        return b == null || b.isEmpty() ? a : a + "." + b;
    }

}
