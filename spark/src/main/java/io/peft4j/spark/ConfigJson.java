package io.peft4j.spark;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.peft4j.core.config.RunConfig;
import io.peft4j.core.config.RunConfigParser;

/**
 * A {@link RunConfig} as the JSON text {@link RunConfigParser} reads: how the driver ships its configuration to the
 * executors (the records are not serializable, and text keeps the parser's validation on both sides).
 */
final class ConfigJson {
    private static final ObjectMapper JSON = new ObjectMapper().setSerializationInclusion(JsonInclude.Include.NON_NULL);

    private ConfigJson() {
    }

    static String write(RunConfig config) {
        ObjectNode root = JSON.valueToTree(config);
        ArrayNode adapters = root.putArray("adapters");
        for (RunConfig.AdapterSection a : config.adapters()) {
            ObjectNode n = adapters.addObject();
            if (a.name() != null) {
                n.put("name", a.name());
            }
            n.put("method", a.method());
            if (a.initializer() != null) {
                n.put("initializer", a.initializer());
            }
            if (a.rankAllocator() != null) {
                n.set("rank_allocator", JSON.valueToTree(a.rankAllocator()));
            }
            if (a.settings() != null) {
                a.settings().forEach((k, v) -> n.set(k, JSON.valueToTree(v)));
            }
        }
        return root.toString();
    }

    static com.fasterxml.jackson.databind.JsonNode tree(String json) {
        try {
            return JSON.readTree(json);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException("not JSON: " + e.getOriginalMessage(), e);
        }
    }

    static RunConfig read(String json) {
        return RunConfigParser.parse(json, false);
    }
}
