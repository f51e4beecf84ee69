package io.peft4j.core.cli;

import io.peft4j.api.ConfigException;
import io.peft4j.api.Merger;
import io.peft4j.api.Quantizer;
import io.peft4j.core.config.RunConfigParser;
import io.peft4j.core.peft.AdapterArithmetic;
import io.peft4j.core.peft.AdapterFiles;
import io.peft4j.core.peft.AttachedAdapter;
import io.peft4j.core.plugin.Configured;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.quant.BaseQuantization;
import io.peft4j.core.quant.MergeReport;
import io.peft4j.core.quant.QuantizationReport;
import io.peft4j.core.quant.QuantizedExport;
import io.peft4j.core.run.Bundled;
import io.peft4j.core.run.MergedExport;
import io.peft4j.core.run.RunConfigValidator;
import io.peft4j.core.run.RunPlan;
import io.peft4j.core.run.TuningSession;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code peft4j merge}: fold adapters into the base weights and export a full Hugging Face checkpoint, or, with
 * {@code --combine TYPE}, combine LoRA adapters into a NEW adapter (PEFT's {@code add_weighted_adapter}) written in
 * PEFT format.
 */
@Command(name = "merge", description = {"Merge adapters into the base model and export a Hugging Face checkpoint,",
        "or with --combine, combine LoRA adapters into a new PEFT adapter (add_weighted_adapter)."})
final class MergeCommand implements Callable<Integer> {
    @Mixin
    PluginOptions plugins = new PluginOptions();

    @Option(names = "--model", paramLabel = "DIR", defaultValue = Bundled.MODEL,
            description = "Base model directory (default: ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--adapter", paramLabel = "[NAME=]DIR", required = true,
            description = "Adapter to merge (repeatable: all are merged, in order).")
    List<String> adapters = new ArrayList<>();

    @Option(names = "--out", paramLabel = "DIR", required = true,
            description = "Output directory: the merged model, or with --combine the new adapter.")
    Path out;

    @Option(names = "--combine", paramLabel = "TYPE", description = "Write a new adapter combining the --adapter "
            + "inputs instead of a merged model: linear, cat, svd, ties, ties_svd, dare_linear, dare_ties, "
            + "dare_linear_svd, dare_ties_svd, magnitude_prune, magnitude_prune_svd.")
    String combine;

    @Option(names = "--weights", paramLabel = "W1,W2", split = ",",
            description = "With --combine: one weight per adapter (may be negative).")
    List<Double> weights = new ArrayList<>();

    @Option(names = "--density", paramLabel = "D", description = "With --combine: kept fraction for ties, dare_* "
            + "and magnitude_prune (0 < D <= 1).")
    Double density;

    @Option(names = "--majority-sign", paramLabel = "total|frequency", description = "With --combine: TIES sign "
            + "election (default total).")
    String majoritySign;

    @Option(names = "--svd-rank", paramLabel = "K", description = "With --combine: rank of the svd types' result "
            + "(default: the largest input rank).")
    Integer svdRank;

    @Option(names = "--svd-clamp", paramLabel = "Q", description = "With --combine: clamp the svd factors at this "
            + "quantile.")
    Double svdClamp;

    @Option(names = "--merger", paramLabel = "ID", defaultValue = "weighted",
            description = "With --combine: the Merger extension to use (default: ${DEFAULT-VALUE}).")
    String merger;

    @Option(names = "--seed", defaultValue = "0", description = "With --combine: seed of DARE's random masks.")
    long seed;

    @Option(names = "--quantize", paramLabel = "METHOD",
            description = "Quantize the merged model with an installed quantizer (nf4, int8) and export it quantized "
                    + "(\"PEFT, then quantize\"); prints size and output error.")
    String quantize;

    @Option(names = "--full-precision",
            description = "Dequantize a quantized base first, merge in float32 and export float32 (no "
                    + "re-quantization error).")
    boolean fullPrecision;

    @Override
    public Integer call() {
        var cfg = RunConfigParser.parse("{}", false).withModelPath(model);
        try (PluginRuntime rt = plugins.start()) {
            RunPlan plan = RunConfigValidator.validate(cfg, rt.extensions());
            try (TuningSession s = TuningSession.open(plan, rt.extensions())) {
                List<String> names = AdapterLoading.load(s.peft(), rt.extensions(), adapters, 0);
                if (combine != null) {
                    combine(s, rt, names);
                    return 0;
                }
                s.peft().setActive(names);
                if (quantizedMerge(s, plan, names, rt)) {
                    return 0;
                }
                for (String n : names) {
                    s.peft().merge(n);
                }
                MergedExport.write(s.model(), plan.modelDir(), out);
                System.out.println("merged " + names + " into " + plan.modelDir() + "; wrote " + out.toAbsolutePath());
            }
        }
        return 0;
    }

    private void combine(TuningSession s, PluginRuntime rt, List<String> names) {
        if (weights.isEmpty()) {
            throw new ConfigException("--weights", "required with --combine: one weight per adapter, e.g. 0.7,0.3");
        }
        Merger<?> m = rt.extensions().merger(merger).orElseThrow(() -> new ConfigException("--merger",
                "no installed plugin provides merger '" + merger + "'; installed: " + rt.extensions().mergers().keySet()
                        + " (the merging plugin provides 'weighted')"));
        Map<String, Object> options = new LinkedHashMap<>();
        if (density != null) {
            options.put("density", density);
        }
        if (majoritySign != null) {
            options.put("majority_sign_method", majoritySign);
        }
        if (svdRank != null) {
            options.put("svd_rank", svdRank);
        }
        if (svdClamp != null) {
            options.put("svd_clamp", svdClamp);
        }
        String name = "combined";
        while (names.contains(name)) {
            name = name + "_";
        }
        AttachedAdapter a = AdapterArithmetic.addWeighted(s.peft(), m, names, weights, name, combine, options,
                seed);
        AdapterFiles.saveOne(s.peft(), name, out, model);
        System.out.println("combined " + names + " with weights " + weights + " (" + combine + ", rank "
                + ((io.peft4j.api.LowRankSite) a.instance().modules().values().iterator().next()).rank()
                + ") into a new adapter; wrote " + out.toAbsolutePath());
    }

    /**
     * Handles {@code --quantize}, {@code --full-precision} and merging into a quantized base (which re-quantizes
     * and exports quantized, reporting the error); false when a plain float merge applies.
     */
    private boolean quantizedMerge(TuningSession s, RunPlan plan, List<String> names, PluginRuntime rt) {
        boolean baseQuantized = BaseQuantization.stats(s.model()).linears() > 0;
        if (quantize == null && !fullPrecision && !baseQuantized) {
            return false;
        }
        if (quantize != null && fullPrecision) {
            throw new ConfigException("--quantize", "cannot be combined with --full-precision");
        }
        Quantizer<?> q = quantize == null ? null : rt.extensions().quantizer(quantize).orElseThrow(() ->
                new ConfigException("--quantize", "no installed quantizer \"" + quantize + "\"; installed: "
                        + rt.extensions().quantizers().keySet()));
        if (fullPrecision || q != null) {
            int n = BaseQuantization.dequantize(s.model());
            if (n > 0) {
                System.out.println("dequantized " + n + " quantized linears to float32 before merging");
            }
        }
        MergeReport mr = s.mergeAndReport(names);
        System.out.printf(Locale.ROOT, "merged %s (%d linears re-quantized): logit change max %.3g, mean %.3g "
                        + "(largest logit %.3g)%n", names, mr.requantizedLinears(), mr.change().maxAbs(),
                mr.change().meanAbs(), mr.change().maxAbsLogit());
        if (q != null) {
            QuantizationReport qr = BaseQuantization.quantizeAndReport(s.model(),
                    Configured.quantization(q, Map.of(), "--quantize"), s.probe());
            System.out.printf(Locale.ROOT, "quantized %d linears with %s: %d params in %d bytes (%.3f bits/param); "
                            + "logit change vs merged float32 max %.3g, mean %.3g%n", qr.linears(), qr.method(),
                    qr.parameters(), qr.storageBytes(), qr.bitsPerParameter(), qr.change().maxAbs(),
                    qr.change().meanAbs());
        }
        if (fullPrecision) {
            MergedExport.write(s.model(), plan.modelDir(), out);
        } else {
            QuantizedExport.write(s.model(), plan.modelDir(), out);
        }
        System.out.println("wrote " + (fullPrecision ? "float32" : "quantized") + " model to " + out.toAbsolutePath());
        return true;
    }
}
