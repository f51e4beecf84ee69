package io.peft4j.core.run;

import io.peft4j.api.ConfigException;
import io.peft4j.api.SiteInfo;
import io.peft4j.api.SiteKind;
import io.peft4j.core.config.RunConfig;
import io.peft4j.core.io.AtomicFiles;
import io.peft4j.core.model.AdaptableLinear;
import io.peft4j.core.model.LlamaModel;
import io.peft4j.core.peft.PeftModel;
import io.peft4j.core.prune.Pruner;
import io.peft4j.core.prune.PruningMasks;
import io.peft4j.core.prune.SparsityReport;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The pruning state of a {@link TuningSession}: the masks in force (prune-then-PEFT from the plan's {@code pruning}
 * section, or PEFT-then-prune through {@link #pruneAfterPeft}), re-applied after a merge so the merged model keeps
 * its sparsity, and the measured sparsity ({@code sparsity.json}).
 */
final class SessionPruning implements AutoCloseable {
    private final RunPlan plan;
    private final LlamaModel model;
    private final PeftModel peft;
    private PruningMasks masks;

    /** {@code masks}: those of the plan's {@code pruning} section, applied while opening; null: nothing pruned. */
    SessionPruning(RunPlan plan, LlamaModel model, PeftModel peft, PruningMasks masks) {
        this.plan = plan;
        this.model = model;
        this.peft = peft;
        this.masks = masks;
    }

    PruningMasks masks() {
        return masks;
    }

    /** Measured sparsity of the pruned linears (every decoder linear when nothing was pruned). */
    SparsityReport sparsity() {
        List<String> paths = masks != null ? new ArrayList<>(masks.masks().keySet())
                : Pruner.targetPaths(model.config(), new RunConfig.PruningSection(null, 0.0, null, null, null));
        return SparsityReport.measure(model, paths);
    }

    /** Writes {@code <out>/sparsity.json} when something was pruned. */
    void writeReport(Path out) {
        if (masks == null) {
            return;
        }
        Path file = out.resolve("sparsity.json");
        try {
            AtomicFiles.writeJson(file, sparsity().toMap());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    /** Re-applies the masks after a merge (re-quantizing with the plan's quantizer on a quantized base). */
    void reapply() {
        if (masks != null) {
            masks.apply(model, plan.quantization() == null ? null : plan.quantization()::quantize);
        }
    }

    /** See {@link TuningSession#pruneAfterPeft}. */
    SparsityReport pruneAfterPeft(RunConfig.PruningSection spec, boolean keepAdapterUnmerged) {
        spec.validate();
        Pruner.validate(model.config(), spec);
        if (model.linears().values().stream().anyMatch(AdaptableLinear::quantized)) {
            throw new ConfigException("pruning", "the base is quantized; prune before quantizing (use the pruning "
                    + "section of the run configuration, which prunes before quantization)");
        }
        if (!keepAdapterUnmerged) {
            for (String name : peft.active()) {
                for (SiteInfo s : peft.adapter(name).sites()) {
                    if (s.kind() != SiteKind.LINEAR) {
                        throw new ConfigException("pruning", "adapter '" + name + "' ("
                                + peft.adapter(name).method().method() + ") acts on " + s.kind() + " site " + s.path()
                                + " and cannot be merged; prune with keep_adapter_unmerged or deactivate it");
                    }
                }
            }
            for (String name : peft.active()) {
                peft.merge(name);
            }
        }
        PruningMasks fresh = Pruner.prune(model, spec);
        if (masks != null) {
            masks.close();
        }
        masks = fresh;
        return SparsityReport.measure(model, masks.masks().keySet());
    }

    @Override
    public void close() {
        if (masks != null) {
            masks.close();
        }
    }
}
