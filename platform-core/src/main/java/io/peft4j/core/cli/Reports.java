package io.peft4j.core.cli;

import io.peft4j.api.SiteInfo;
import io.peft4j.core.model.LlamaModel;
import io.peft4j.core.peft.AttachedAdapter;
import io.peft4j.core.peft.PeftModel;
import io.peft4j.core.run.TuningSession;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Human-readable summaries printed by the commands. */
final class Reports {
    private Reports() {
    }

    /** Per module: which adapters apply; per adapter and in total: trainable parameters vs the base model. */
    static void printAdapters(PeftModel peft, LlamaModel model) {
        Map<String, List<String>> byModule = new LinkedHashMap<>();
        for (SiteInfo s : model.sites()) {
            byModule.put(s.path() + " [" + s.kind().name().toLowerCase() + " " + s.inFeatures() + "->"
                    + s.outFeatures() + "]", new ArrayList<>());
        }
        for (AttachedAdapter a : peft.adapters().values()) {
            for (SiteInfo s : a.sites()) {
                String key = s.path() + " [" + s.kind().name().toLowerCase() + " " + s.inFeatures() + "->"
                        + s.outFeatures() + "]";
                byModule.get(key).add(a.name() + "(" + a.method().method() + ")");
            }
        }
        System.out.println("Modules (" + byModule.size() + " sites):");
        byModule.forEach((k, v) -> System.out.printf("  %-60s %s%n", k, v.isEmpty() ? "-" : String.join(", ", v)));
        long base = model.parameterCount();
        long total = 0;
        System.out.println("Adapters:");
        for (AttachedAdapter a : peft.adapters().values()) {
            long n = PeftModel.trainableCount(a.instance());
            total += n;
            System.out.printf("  %-12s method=%-8s modules=%-4d trainable=%,d%s%n", a.name(), a.method().method(),
                    a.sites().size(), n, peft.active().contains(a.name()) ? "" : "  (inactive)");
        }
        System.out.printf("Trainable %,d of %,d total parameters (%.3f%%); base model %,d.%n", total, base + total,
                100.0 * total / (base + total), base);
    }

    static void printOutcome(TuningSession.Outcome o, String outDir) {
        System.out.printf("eval loss %.4f -> %.4f  (perplexity %.2f -> %.2f)%n", o.evalBefore().loss(),
                o.evalAfter().loss(), o.evalBefore().perplexity(), o.evalAfter().perplexity());
        System.out.printf("steps %d; adapter saved to %s; metrics in %s/metrics.jsonl, loss curve %s/loss.png%n",
                o.training().steps(), o.adapterDir(), outDir, outDir);
    }
}
