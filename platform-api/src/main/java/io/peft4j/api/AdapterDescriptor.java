package io.peft4j.api;

import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;

/**
 * What an {@link Adapter} is, as data: the facts the platform reads before it creates anything. An adapter returns
 * one from {@link Adapter#descriptor()}, and {@link Adapter#method()}, {@link Adapter#peftType()} etc. read it.
 *
 * @param method         the method id used in configurations ({@code method: lora}); unique among installed plugins
 * @param peftType       the value of {@code peft_type} in {@code adapter_config.json}, e.g. {@code LORA}
 * @param configType     the configuration record type (see {@link AdapterConfig})
 * @param siteKinds      the site kinds this method can attach to
 * @param description    one line for {@code peft4j plugins}
 * @param defaultTargets the modules adapted on a model of a given {@code model_type} when the config names none
 *                       (see {@link Adapter#defaultTargets}); the 5-argument constructor gives none
 * @param mixedBatch     whether adapters of this method may serve individual rows of a mixed batch (see
 *                       {@link Adapter#supportsMixedBatch}); false with the 5-argument constructor
 */
public record AdapterDescriptor(String method, String peftType, Class<? extends AdapterConfig> configType,
                                Set<SiteKind> siteKinds, String description,
                                Function<String, List<String>> defaultTargets, boolean mixedBatch) {

    public AdapterDescriptor {
        requireText(method, "method");
        requireText(peftType, "peftType");
        Objects.requireNonNull(configType, "AdapterDescriptor.configType must not be null");
        Objects.requireNonNull(siteKinds, "AdapterDescriptor.siteKinds must not be null");
        siteKinds = Set.copyOf(siteKinds);
        description = description == null ? "" : description;
        defaultTargets = defaultTargets == null ? architecture -> List.of() : defaultTargets;
    }

    /** A method with no default targets that does not serve mixed batches. */
    public AdapterDescriptor(String method, String peftType, Class<? extends AdapterConfig> configType,
                             Set<SiteKind> siteKinds, String description) {
        this(method, peftType, configType, siteKinds, description, null, false);
    }

    /** This descriptor with the given default targets, e.g. {@code TargetSpec::loraFamilyDefaults}. */
    public AdapterDescriptor withDefaultTargets(Function<String, List<String>> targets) {
        return new AdapterDescriptor(method, peftType, configType, siteKinds, description,
                Objects.requireNonNull(targets, "targets"), mixedBatch);
    }

    /** This descriptor for a method whose output rows depend on their own input rows only (mixed batches allowed). */
    public AdapterDescriptor withMixedBatch() {
        return new AdapterDescriptor(method, peftType, configType, siteKinds, description, defaultTargets, true);
    }

    private static void requireText(String value, String field) {
        if (value == null || value.isBlank()) {
            throw new IllegalArgumentException("AdapterDescriptor." + field + " must be a non-blank string, got "
                    + (value == null ? "null" : "\"" + value + "\""));
        }
    }
}
