package io.peft4j.core.cli;

import io.peft4j.core.config.RunConfig;
import io.peft4j.core.config.RunConfigParser;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.run.RunConfigValidator;
import io.peft4j.core.run.RunPlan;
import io.peft4j.core.run.TuningSession;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code peft4j train CONFIG}: validate the whole config, then train and save the adapters. */
@Command(name = "train", description = "Train the adapters a YAML/JSON config declares; saves them in PEFT format.")
final class TrainCommand implements Callable<Integer> {
    @Mixin
    PluginOptions plugins = new PluginOptions();

    @Parameters(index = "0", paramLabel = "CONFIG", description = "Run configuration (.yaml, .yml or .json).")
    Path config;

    @Option(names = "--out", paramLabel = "DIR", description = "Override output.dir.")
    Path out;

    @Option(names = "--resume", description = "Continue from the newest checkpoint in output.dir/checkpoints "
            + "(training.resume).")
    boolean resume;

    @Option(names = {"-v", "--verbose"}, description = "Also print every module and the adapters targeting it.")
    boolean verbose;

    @Override
    public Integer call() {
        RunConfig cfg = RunConfigParser.parse(config);
        if (out != null) {
            cfg = cfg.withOutputDir(out.toString());
        }
        if (resume) {
            cfg = cfg.withTraining(cfg.training().withResume(true));
        }
        try (PluginRuntime rt = plugins.start(cfg.model().device())) {
            RunPlan plan = RunConfigValidator.validate(cfg, rt.extensions());
            try (TuningSession s = TuningSession.open(plan, rt.extensions())) {
                if (verbose) {
                    Reports.printAdapters(s.peft(), s.model());
                }
                Reports.printTrainable(s.peft(), s.model());
                Reports.printEvalPlan(s);
                if (cfg.training().resume()) {
                    Reports.printResume(Path.of(cfg.output().dir()));
                }
                TuningSession.Outcome o = s.train();
                Reports.printOutcome(o, cfg.output().dir());
            }
        }
        return 0;
    }
}
