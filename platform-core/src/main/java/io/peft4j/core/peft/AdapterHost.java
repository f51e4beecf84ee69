package io.peft4j.core.peft;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.peft4j.api.ModelShape;
import io.peft4j.api.SiteInfo;
import io.peft4j.api.SiteModule;
import io.peft4j.core.model.AdaptableLinear;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/** What {@link PeftModel} needs from a base model: its sites and the hooks to attach adapters there. */
public interface AdapterHost {

    /** Every attachment site, in model order. */
    List<SiteInfo> sites();

    /** The linear layer at a LINEAR site path. */
    AdaptableLinear linear(String path);

    ModelShape shape();

    /**
     * The model's {@code model_type} (e.g. {@code llama}), for {@link io.peft4j.api.Adapter#defaultTargets}; empty
     * when unknown (then no method has default targets).
     */
    default String architecture() {
        return "";
    }

    /** The manager owning the model weights. */
    NDManager manager();

    /** The adapters applied in forward, in order. */
    void setActiveAdapters(List<String> names);

    /** Attaches a module at a non-linear site (sub-layer output, attention KV, input embedding). */
    void attachSiteModule(String adapterName, SiteModule module);

    /** Removes every non-linear site module of the adapter. */
    void detachSiteModules(String adapterName);

    /** Input-embedding rows for token ids, {@code [n, hidden]}. */
    NDArray embed(long[] tokenIds);

    /** Text encoder, if a tokenizer is loaded. */
    Optional<Function<String, long[]>> tokenizer();
}
