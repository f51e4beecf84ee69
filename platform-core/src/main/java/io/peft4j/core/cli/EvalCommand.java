package io.peft4j.core.cli;

import io.peft4j.core.config.RunConfig;
import io.peft4j.core.config.RunConfigParser;
import io.peft4j.core.peft.AdapterFiles;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.run.RunConfigValidator;
import io.peft4j.core.run.RunPlan;
import io.peft4j.core.run.TuningSession;
import io.peft4j.core.train.EvalResult;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code peft4j eval CONFIG [--adapter DIR]}: eval loss and perplexity on the config's eval data. */
@Command(name = "eval", description = "Eval loss and perplexity of the base model, or of a saved adapter.")
final class EvalCommand implements Callable<Integer> {
    @Mixin
    PluginOptions plugins = new PluginOptions();

    @Parameters(index = "0", paramLabel = "CONFIG", description = "Run configuration (model and data sections).")
    Path config;

    @Option(names = "--adapter", paramLabel = "DIR", description = "A saved adapter directory (PEFT format).")
    Path adapter;

    @Override
    public Integer call() {
        RunConfig cfg = RunConfigParser.parse(config);
        cfg = cfg.withAdapters(java.util.List.of());
        try (PluginRuntime rt = plugins.start(cfg.model().device())) {
            RunPlan plan = RunConfigValidator.validate(cfg, rt.extensions());
            try (TuningSession s = TuningSession.open(plan, rt.extensions())) {
                if (adapter != null) {
                    AdapterFiles.load(s.peft(), rt.extensions(), adapter, AdapterFiles.DEFAULT_NAME,
                            cfg.training().seed());
                    s.peft().setActive(List.of(AdapterFiles.DEFAULT_NAME));
                }
                EvalResult r = s.evaluate();
                System.out.printf("eval_loss %.4f  perplexity %.3f  tokens %d%n", r.loss(), r.perplexity(), r.tokens());
            }
        }
        return 0;
    }
}
