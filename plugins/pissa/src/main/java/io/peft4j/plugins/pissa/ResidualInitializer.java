package io.peft4j.plugins.pissa;

import ai.djl.ndarray.NDManager;
import io.peft4j.api.AdapterInstance;
import io.peft4j.api.LowRankUpdate;
import java.util.Map;

/**
 * An SVD initializer ({@link SvdInitializer}) that puts {@code s·B A} (a rank-r part of {@code W}) into the adapter
 * and leaves the residual {@code W - s·B A} in the base (PiSSA; MiLoRA through its PF4J plugin dependency on pissa).
 * Such adapters belong to the residual base; {@link #convertForOriginalBase} turns one into a plain LoRA adapter for
 * the original weights ({@link OriginalBaseConversion}).
 */
public abstract class ResidualInitializer extends SvdInitializer {

    protected ResidualInitializer(String id, String suffixPrefix, String description) {
        super(id, suffixPrefix, description);
    }

    /** The residual {@code W - s·B A} replaces the base weight. */
    @Override
    public final boolean rewritesBase() {
        return true;
    }

    /** PEFT's PiSSA-to-LoRA conversion ({@link OriginalBaseConversion}); only the initial factors differ by method. */
    @Override
    public final OriginalBaseAdapter convertForOriginalBase(AdapterInstance trained,
                                                            Map<String, LowRankUpdate> initial, NDManager manager) {
        return OriginalBaseConversion.convert(trained, initial, manager);
    }
}
