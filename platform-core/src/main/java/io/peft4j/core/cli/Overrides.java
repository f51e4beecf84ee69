package io.peft4j.core.cli;

import io.peft4j.core.config.RunConfig;
import java.util.List;

/** Small, explicit edits of a parsed configuration made by command-line flags. */
final class Overrides {
    private Overrides() {
    }

    static RunConfig output(RunConfig c, String dir) {
        return new RunConfig(c.model(), c.quantization(), c.adapters(), c.optimizer(), c.training(), c.data(),
                new RunConfig.OutputSection(dir), c.pruning());
    }

    static RunConfig withoutAdapters(RunConfig c) {
        return new RunConfig(c.model(), c.quantization(), List.of(), c.optimizer(), c.training(), c.data(),
                c.output(), c.pruning());
    }

    static RunConfig steps(RunConfig c, int steps) {
        RunConfig.TrainingSection t = c.training();
        return new RunConfig(c.model(), c.quantization(), c.adapters(), c.optimizer(),
                new RunConfig.TrainingSection(steps, t.epochs(), t.batchSize(), t.gradAccumulation(), t.schedule(),
                        t.warmupSteps(), t.maxSeqLen(), t.truncate(), t.packing(), t.evalEvery(), t.checkpointEvery(),
                        t.keepCheckpoints(), t.logEvery(), t.seed(), t.progressBar(), t.resume()), c.data(), c.output(),
                c.pruning());
    }

    static RunConfig model(RunConfig c, String path) {
        return new RunConfig(new RunConfig.ModelSection(path, c.model().device()), c.quantization(), c.adapters(),
                c.optimizer(), c.training(), c.data(), c.output(), c.pruning());
    }
}
