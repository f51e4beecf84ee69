package io.peft4j.plugins.adalora;

import com.fasterxml.jackson.annotation.JsonProperty;
import io.peft4j.api.ExtensionOptions;

/**
 * Options of the {@code adalora} rank allocator ({@code rank_allocator: {id: adalora, ...}}): each one given
 * overrides the {@link AdaLoraConfig} field of the same name for the schedule; null (absent) keeps the adapter's
 * value. The ranges are checked on the combined configuration ({@link AdaLoraRankAllocator#validate}), since they
 * relate options to each other ({@code tinit < total_step - tfinal}).
 */
public record AdaLoraAllocatorOptions(@JsonProperty("total_step") Integer totalStep,
                                      @JsonProperty("tinit") Integer tinit,
                                      @JsonProperty("tfinal") Integer tfinal,
                                      @JsonProperty("deltaT") Integer deltaT,
                                      @JsonProperty("beta1") Double beta1,
                                      @JsonProperty("beta2") Double beta2,
                                      @JsonProperty("target_r") Integer targetR) implements ExtensionOptions {

    /** No overrides: the schedule comes from the adapter's configuration alone. */
    public static AdaLoraAllocatorOptions none() {
        return new AdaLoraAllocatorOptions(null, null, null, null, null, null, null);
    }

    /** The option names that were given (JSON names), for attributing errors of the combined config. */
    java.util.Set<String> given() {
        java.util.Map<String, Object> all = new java.util.HashMap<>();
        all.put("total_step", totalStep);
        all.put("tinit", tinit);
        all.put("tfinal", tfinal);
        all.put("deltaT", deltaT);
        all.put("beta1", beta1);
        all.put("beta2", beta2);
        all.put("target_r", targetR);
        all.values().removeIf(java.util.Objects::isNull);
        return all.keySet();
    }
}
