package io.peft4j.core.cli;

import io.peft4j.core.config.RunConfigParser;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.run.Bundled;
import io.peft4j.core.run.MergedExport;
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

    @Override
    public Integer call() {
        var cfg = RunConfigParser.parse("{}", false).withModelPath(model);
        try (PluginRuntime rt = plugins.start()) {
            RunPlan plan = RunConfigValidator.validate(cfg, rt.extensions());
            try (TuningSession s = TuningSession.open(plan, rt.extensions())) {
                List<String> names = AdapterLoading.load(s.peft(), rt.extensions(), adapters, 0);
                s.peft().setActive(names);
                for (String n : names) {
                    s.peft().merge(n);
                }
                MergedExport.write(s.model(), plan.modelDir(), out);
                System.out.println("merged " + names + " into " + plan.modelDir() + "; wrote " + out.toAbsolutePath());
            }
        }
        return 0;
    }
}
