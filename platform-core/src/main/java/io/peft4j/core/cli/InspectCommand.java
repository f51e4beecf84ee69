package io.peft4j.core.cli;

import io.peft4j.core.config.RunConfig;
import io.peft4j.core.config.RunConfigParser;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.run.Bundled;
import io.peft4j.core.run.RunConfigValidator;
import io.peft4j.core.run.RunPlan;
import io.peft4j.core.run.TuningSession;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code peft4j inspect}: modules, which are targeted by which adapter, trainable vs total parameters. */
@Command(name = "inspect", description = "Show the model's modules, which adapters target them, and parameter counts.")
final class InspectCommand implements Callable<Integer> {
    @Mixin
    PluginOptions plugins = new PluginOptions();

    @Parameters(index = "0", arity = "0..1", paramLabel = "CONFIG", description = "Run configuration to inspect.")
    Path config;

    @Option(names = "--model", paramLabel = "DIR", description = "Model directory (default: the config's, or "
            + Bundled.MODEL + ").")
    String model;

    @Option(names = "--adapter", paramLabel = "DIR", description = "Saved adapter directory to load (repeatable).")
    List<Path> adapters = new ArrayList<>();

    @Override
    public Integer call() {
        RunConfig cfg = config != null ? RunConfigParser.parse(config) : RunConfigParser.parse("{}", false);
        if (model != null) {
            cfg = cfg.withModelPath(model);
        }
        try (PluginRuntime rt = plugins.start(cfg.model().device())) {
            RunPlan plan = RunConfigValidator.validate(cfg, rt.extensions());
            try (TuningSession s = TuningSession.open(plan, rt.extensions())) {
                List<String> active = new ArrayList<>(s.peft().active());
                active.addAll(AdapterLoading.load(s.peft(), rt.extensions(),
                        adapters.stream().map(Path::toString).toList(), cfg.training().seed()));
                s.peft().setActive(active);
                Reports.printAdapters(s.peft(), s.model());
            }
        }
        return 0;
    }
}
