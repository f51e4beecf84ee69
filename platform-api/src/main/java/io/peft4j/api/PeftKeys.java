package io.peft4j.api;

/** Hugging Face PEFT's tensor naming (see reference spec section 8.2). */
public final class PeftKeys {
    /** Prefix of every saved key of a module inside the wrapped transformers model. */
    public static final String MODEL_PREFIX = "base_model.model.";

    private PeftKeys() {
    }

    /** Saved key of a module tensor: {@code base_model.model.<path>.<suffix>}, e.g. suffix {@code lora_A.weight}. */
    public static String saved(String modulePath, String suffix) {
        return MODEL_PREFIX + modulePath + "." + suffix;
    }

    /**
     * In-memory name with the adapter name, e.g. {@code (path, "lora_A", "default", "weight")} gives
     * {@code base_model.model.<path>.lora_A.default.weight}; a null {@code param} gives {@code ...lora_E.default}.
     */
    public static String inMemory(String modulePath, String component, String adapterName, String param) {
        String base = MODEL_PREFIX + modulePath + "." + component + "." + adapterName;
        return param == null ? base : base + "." + param;
    }
}
