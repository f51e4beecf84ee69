package io.peft4j.core.cli;

import io.peft4j.api.ConfigException;
import io.peft4j.api.Quantizer;
import io.peft4j.core.config.RunConfigParser;
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
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code peft4j merge}: fold adapters into the base weights and export a full Hugging Face checkpoint. */
@Command(name = "merge", description = "Merge adapters into the base model and export a Hugging Face checkpoint.")
final class MergeCommand implements Callable<Integer> {
    @Mixin
    PluginOptions plugins = new PluginOptions();

    @Option(names = "--model", paramLabel = "DIR", defaultValue = Bundled.MODEL,
            description = "Base model directory (default: ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--adapter", paramLabel = "[NAME=]DIR", required = true,
            description = "Adapter to merge (repeatable: all are merged, in order).")
    List<String> adapters = new ArrayList<>();

    @Option(names = "--out", paramLabel = "DIR", required = true, description = "Output model directory.")
    Path out;

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
        var cfg = Overrides.model(RunConfigParser.parse("{}", false), model);
        try (PluginRuntime rt = plugins.start()) {
            RunPlan plan = RunConfigValidator.validate(cfg, rt.extensions());
            try (TuningSession s = TuningSession.open(plan, rt.extensions())) {
                List<String> names = AdapterLoading.load(s.peft(), rt.extensions(), adapters, 0);
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
        Quantizer q = quantize == null ? null : rt.extensions().quantizer(quantize).orElseThrow(() ->
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
            QuantizationReport qr = BaseQuantization.quantizeAndReport(s.model(), q, Map.of(), s.probe());
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
