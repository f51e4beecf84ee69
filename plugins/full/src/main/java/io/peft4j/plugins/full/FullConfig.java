package io.peft4j.plugins.full;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import io.peft4j.api.AdapterConfig;
import io.peft4j.api.TargetSpec;

/**
 * Full fine-tuning baseline.
 *
 * @param targetModules the linear layers whose weights are trained (default {@code all-linear}: every linear except
 *                      the output head)
 */
public record FullConfig(@JsonProperty("target_modules") Object targetModules) implements AdapterConfig {
    public FullConfig {
        targetModules = targetModules == null ? TargetSpec.ALL_LINEAR : targetModules;
    }

    @Override
    @JsonIgnore
    public TargetSpec targetSpec() {
        return TargetSpec.fromPeft(targetModules, null, null, null);
    }
}
