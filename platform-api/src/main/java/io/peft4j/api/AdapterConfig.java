package io.peft4j.api;

/**
 * A method's hyper-parameters. Implementations are immutable records whose JSON property names are exactly the
 * keys of Hugging Face PEFT's {@code adapter_config.json} (annotate with {@code @JsonProperty("lora_alpha")}), so
 * the same type reads the user's YAML, reads adapters written by PEFT, and writes adapters PEFT can read.
 *
 * <p>Missing fields take PEFT's defaults (apply them in the record's compact constructor). The platform reads
 * PEFT files leniently (unknown keys are ignored, as PEFT does) and the user's configuration strictly (unknown
 * keys are errors that name the nearest valid key).
 */
public interface AdapterConfig {

    /** The modules this adapter targets; may be {@link TargetSpec#isEmpty() empty} if the method has no targets. */
    TargetSpec targetSpec();

    /**
     * Checks values that do not depend on the model (ranges, incompatible options). Throw
     * {@link ConfigException} naming the field and what was expected.
     */
    default void validate() {
    }

    /**
     * PEFT's {@code bias} option: {@code "none"}, {@code "all"} (every bias of the base model is trained and saved)
     * or a method-specific {@code "<method>_only"} (biases of the adapted layers).
     */
    default String bias() {
        return "none";
    }

    /** PEFT's {@code modules_to_save}: extra modules trained fully and saved with the adapter. */
    default java.util.List<String> modulesToSave() {
        return java.util.List.of();
    }
}
