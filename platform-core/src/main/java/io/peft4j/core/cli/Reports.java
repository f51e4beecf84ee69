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

    /**
     * One line, as PEFT's {@code print_trainable_parameters()}: {@code trainable params: N || all params: M ||
     * trainable%: P} (all = base + adapter parameters).
     */
    static void printTrainable(PeftModel peft, LlamaModel model) {
        long trainable = 0;
        for (AttachedAdapter a : peft.adapters().values()) {
            trainable += PeftModel.trainableCount(a.instance());
        }
        long all = model.parameterCount() + trainable;
        System.out.println(trainableLine(trainable, all));
    }

    static String trainableLine(long trainable, long all) {
        return String.format(java.util.Locale.ROOT, "trainable params: %,d || all params: %,d || trainable%%: %.4f",
                trainable, all, 100.0 * trainable / all);
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
        if (o.evalBefore() == null) {
            System.out.println("no eval data (data.eval / data.eval_fraction): eval before and after skipped");
        } else {
            System.out.printf("eval loss %.4f -> %.4f  (perplexity %.2f -> %.2f)%s%n", o.evalBefore().loss(),
                    o.evalAfter().loss(), o.evalBefore().perplexity(), o.evalAfter().perplexity(),
                    bestNote(o.training()));
        }
        if (o.training().stoppedEarly()) {
            System.out.println("stopped early at step " + o.training().steps() + " (training.early_stopping_patience)");
        }
        System.out.printf("steps %d; adapter saved to %s; metrics in %s/metrics.jsonl, loss curve %s/loss.png%n",
                o.training().steps(), o.adapterDir(), outDir, outDir);
    }

    /** Which step's adapter the run ended with, when that is the best eval's rather than the last step's. */
    static String bestNote(io.peft4j.core.train.TrainingResult r) {
        if (r.endedWithBest() && r.bestStep() != null) {
            return r.bestStep() == r.steps() ? "; the last step's adapter is the best"
                    : "; adapter of step " + r.bestStep() + ", the best eval (training.load_best_at_end)";
        }
        return "";
    }

    /** For {@code --resume}: where the run continues from, before anything is loaded. */
    static void printResume(java.nio.file.Path outDir) {
        java.nio.file.Path dir = outDir.resolve(io.peft4j.core.train.Trainer.CHECKPOINTS_DIR);
        var latest = new io.peft4j.core.train.checkpoint.CheckpointManager(dir, 1, null).latest();
        System.out.println(latest.map(p -> "resuming from " + p).orElse("resume: no checkpoint in " + dir
                + " yet; starting at step 0"));
    }

    /** Before training: what happens about eval, in one line. */
    static void printEvalPlan(TuningSession s) {
        if (!s.hasEvalData()) {
            System.out.println("no eval data (data.eval / data.eval_fraction not set): training without eval; the "
                    + "last step's adapter is saved");
        }
    }
}
