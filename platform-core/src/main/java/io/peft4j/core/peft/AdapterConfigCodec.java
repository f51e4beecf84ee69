package io.peft4j.core.peft;

import io.peft4j.api.Adapter;
import io.peft4j.api.AdapterConfig;
import io.peft4j.core.config.OptionsCodec;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Converts between a method's {@link AdapterConfig} record and JSON maps, through the platform's one
 * {@link OptionsCodec}. The user's configuration is read strictly (unknown keys are errors naming the nearest valid
 * key); Hugging Face PEFT's {@code adapter_config.json} is read leniently (unknown keys ignored, as PEFT itself
 * does, for forward compatibility).
 */
public final class AdapterConfigCodec {
    /** Keys PEFT writes into every adapter_config.json that are not method hyper-parameters. */
    static final List<String> PEFT_BOOKKEEPING = List.of("peft_type", "inference_mode", "peft_version",
            "auto_mapping", "revision", "task_type", "base_model_name_or_path");

    private AdapterConfigCodec() {
    }

    /** Parses the user's settings for one adapter; {@code field} prefixes error messages (e.g. adapters[0]). */
    public static AdapterConfig parseStrict(Adapter method, Map<String, Object> settings, String field) {
        return OptionsCodec.readStrict(method.configType(), settings, field, owner(method), AdapterConfig::validate);
    }

    /** Parses a saved {@code adapter_config.json} map, ignoring keys the method does not know. */
    public static AdapterConfig parseLenient(Adapter method, Map<String, Object> json, String file) {
        return OptionsCodec.readLenient(method.configType(), json, file, owner(method), AdapterConfig::validate);
    }

    /**
     * The {@code adapter_config.json} content PEFT writes: every config field, plus {@code peft_type},
     * {@code inference_mode: true}, {@code base_model_name_or_path}, {@code task_type}, {@code peft_version};
     * keys sorted.
     */
    public static Map<String, Object> toPeftJson(Adapter method, AdapterConfig config, String baseModel) {
        Map<String, Object> m = OptionsCodec.toMap(config);
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
        return OptionsCodec.knownKeys(method.configType());
    }

    private static String owner(Adapter method) {
        return "method '" + method.method() + "'";
    }
}
