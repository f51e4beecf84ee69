package io.peft4j.core.run;

import io.peft4j.api.Adapter;
import io.peft4j.api.AdapterConfig;
import io.peft4j.api.PlannedQuantization;
import io.peft4j.api.SiteInfo;
import io.peft4j.core.config.RunConfig;
import io.peft4j.core.model.LlamaConfig;
import io.peft4j.core.plugin.Configured;
import java.nio.file.Path;
import java.util.List;

/**
 * A fully validated run: every plugin resolved, every adapter config parsed and checked against the model's
 * modules, every extension's options parsed into its typed record. Produced by {@link RunConfigValidator} before
 * any tensor is created.
 *
 * @param quantization the configured quantizer with its options, or null
 * @param policy       the configured optimizer policy with its options, or null
 */
public record RunPlan(RunConfig config, Path modelDir, LlamaConfig modelConfig, List<PlannedAdapter> adapters,
                      PlannedQuantization<?> quantization, Configured.Policy<?> policy, Path trainData,
                      Path evalData) {

    /** One adapter of the run; {@code allocator} (with its options) is null when none drives it. */
    public record PlannedAdapter(String name, Adapter method, AdapterConfig config, List<SiteInfo> sites,
                                 Configured.Allocator<?> allocator) {
    }
}
