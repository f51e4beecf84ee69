package io.peft4j.core.run;

import io.peft4j.api.Adapter;
import io.peft4j.api.AdapterConfig;
import io.peft4j.api.OptimizerPolicy;
import io.peft4j.api.Quantizer;
import io.peft4j.api.RankAllocator;
import io.peft4j.api.SiteInfo;
import io.peft4j.core.config.RunConfig;
import io.peft4j.core.model.LlamaConfig;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A fully validated run: every plugin resolved, every adapter config parsed and checked against the model's
 * modules. Produced by {@link RunConfigValidator} before any tensor is created.
 */
public record RunPlan(RunConfig config, Path modelDir, LlamaConfig modelConfig, List<PlannedAdapter> adapters,
                      Quantizer quantizer, OptimizerPolicy policy, Path trainData, Path evalData) {

    /** One adapter of the run. */
    public record PlannedAdapter(String name, Adapter method, AdapterConfig config, List<SiteInfo> sites,
                                 RankAllocator allocator, Map<String, Object> allocatorOptions) {
    }
}
