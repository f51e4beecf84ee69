package io.peft4j.core.cli;

import io.peft4j.core.config.RunConfig;
import io.peft4j.core.config.RunConfigParser;
import io.peft4j.core.io.AtomicFiles;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.run.Bundled;
import io.peft4j.core.run.DemoTask;
import io.peft4j.core.run.RunConfigValidator;
import io.peft4j.core.run.RunPlan;
import io.peft4j.core.run.TuningSession;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code peft4j demo}: fine-tunes the bundled stories260K with LoRA on the bundled task (write a story about the
 * character named in the prompt) and reports eval loss, task score and samples before and after.
 */
@Command(name = "demo", description = "LoRA on the bundled stories260K: eval loss, task score and samples before/after.")
final class DemoCommand implements Callable<Integer> {
    @Mixin
    PluginOptions plugins = new PluginOptions();

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "runs/demo",
            description = "Output directory (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--steps", paramLabel = "N", description = "Training steps (default: the bundled config's).")
    Integer steps;

    @Option(names = "--config", paramLabel = "FILE", description = "Use this config instead of the bundled one.")
    Path config;

    @Option(names = {"-v", "--verbose"}, description = "Also print every module and the adapters targeting it.")
    boolean verbose;

    @Override
    public Integer call() throws Exception {
        RunConfig cfg = RunConfigParser.parse(config != null ? config : Bundled.file(Bundled.DEMO_CONFIG, "demo"));
        cfg = cfg.withOutputDir(out.toString());
        if (steps != null) {
            cfg = cfg.withTraining(cfg.training().withSteps(steps));
        }
        try (PluginRuntime rt = plugins.start(cfg.model().device())) {
            RunPlan plan = RunConfigValidator.validate(cfg, rt.extensions());
            try (TuningSession s = TuningSession.open(plan, rt.extensions())) {
                System.out.println("peft4j demo: LoRA on " + plan.modelDir() + " ; task: a story about the character "
                        + "named in the prompt");
                if (verbose) {
                    Reports.printAdapters(s.peft(), s.model());
                }
                Reports.printTrainable(s.peft(), s.model());
                if (plan.evalData() == null) {
                    throw new io.peft4j.api.ConfigException("data.eval", "the demo scores the eval file's prompts: "
                            + "set data.eval to a JSONL file with {\"prompt\", \"completion\"} lines");
                }
                List<String> prompts = DemoTask.prompts(plan.evalData());
                List<String> active = s.peft().active();
                s.peft().setActive(List.of());
                DemoTask.Score before = DemoTask.score(s, prompts, 3);
                s.peft().setActive(active);
                TuningSession.Outcome o = s.train();
                DemoTask.Score after = DemoTask.score(s, prompts, 3);

                System.out.println();
                System.out.printf("eval loss      %.4f -> %.4f%s%n", o.evalBefore().loss(), o.evalAfter().loss(),
                        Reports.bestNote(o.training()));
                System.out.printf("task score     %d/%d -> %d/%d  (continuations that mention the prompt's name)%n",
                        before.hits(), before.total(), after.hits(), after.total());
                System.out.println("samples before:");
                before.samples().forEach(t -> System.out.println("  " + t.replace("\n", " ")));
                System.out.println("samples after:");
                after.samples().forEach(t -> System.out.println("  " + t.replace("\n", " ")));
                Map<String, Object> report = new LinkedHashMap<>();
                report.put("eval_loss_before", o.evalBefore().loss());
                report.put("eval_loss_after", o.evalAfter().loss());
                report.put("task_score_before", before.fraction());
                report.put("task_score_after", after.fraction());
                report.put("steps", o.training().steps());
                report.put("best_step", o.training().bestStep());
                report.put("adapter_step", o.training().endedWithBest() ? o.training().bestStep()
                        : Integer.valueOf(o.training().steps()));
                report.put("stopped_early", o.training().stoppedEarly());
                report.put("samples_before", before.samples());
                report.put("samples_after", after.samples());
                report.put("adapter_dir", o.adapterDir().toString());
                Path reportFile = out.resolve("demo_report.json");
                AtomicFiles.writeJson(reportFile, report);
                System.out.println("output: " + out.toAbsolutePath() + " (adapter/, metrics.jsonl, loss.png, "
                        + "demo_report.json)");
            }
        }
        return 0;
    }
}
