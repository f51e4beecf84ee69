package org.example.ia3;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import io.peft4j.api.AdapterConfig;
import io.peft4j.api.ConfigException;
import io.peft4j.api.TargetSpec;
import java.util.List;

/**
 * IA3 hyper-parameters, named as Hugging Face PEFT's {@code IA3Config}.
 *
 * @param targetModules      modules that get a learned scaling vector
 * @param feedforwardModules the subset whose INPUT is scaled (PEFT: feed-forward layers); the others scale the output
 * @param initIa3Weights     true: vectors start at 1 (identity)
 */
public record Ia3Config(@JsonProperty("target_modules") Object targetModules,
                        @JsonProperty("feedforward_modules") List<String> feedforwardModules,
                        @JsonProperty("init_ia3_weights") Boolean initIa3Weights) implements AdapterConfig {

    public Ia3Config {
        targetModules = targetModules == null ? List.of("k_proj", "v_proj", "down_proj") : targetModules;
        feedforwardModules = feedforwardModules == null ? List.of("down_proj") : List.copyOf(feedforwardModules);
        initIa3Weights = initIa3Weights == null || initIa3Weights;
    }

    @Override
    @JsonIgnore
    public TargetSpec targetSpec() {
        return TargetSpec.fromPeft(targetModules, null, null, null);
    }

    @Override
    public void validate() {
        if (targetModules instanceof List<?> t) {
            for (String f : feedforwardModules) {
                if (!t.contains(f)) {
                    throw new ConfigException("feedforward_modules", "\"" + f + "\" must also be in target_modules");
                }
            }
        }
    }

    /** Whether the module at this path scales its input (feed-forward) rather than its output. */
    boolean feedforward(String path) {
        return feedforwardModules.stream().anyMatch(f -> path.equals(f) || path.endsWith("." + f));
    }
}
