package io.peft4j.spark;

import io.peft4j.core.config.RunConfig;
import java.io.Serializable;

/**
 * What an executor needs to build its replica of the driver's session: the run configuration without data or
 * output (the driver ships the batches and writes every file), and where plugins and model are on the executor.
 * Equal specs share a replica, so consecutive runs of one configuration load the model once per JVM.
 */
record WorkerSpec(String configJson, String pluginsDir, String key) implements Serializable {

    static WorkerSpec of(RunConfig config, SparkTrainOptions options) {
        RunConfig c = config;
        if (options.executorModelPath() != null) {
            c = c.withModelPath(options.executorModelPath());
        }
        RunConfig.DataSection d = c.data();
        RunConfig.TrainingSection t = c.training();
        // Only what changes a micro-batch's gradient is kept, so that e.g. a resumed run reuses the replica.
        RunConfig.TrainingSection gradientRelevant = new RunConfig.TrainingSection(null, null, null, null, null, null,
                null, null, null, null, null, null, null, t.seed(), false, null, t.gradientCheckpointing());
        c = new RunConfig(c.model(), c.quantization(), c.adapters(), c.optimizer(), gradientRelevant,
                new RunConfig.DataSection(null, null, null, d.addEos(), d.addBos(), d.shuffle()),
                new RunConfig.OutputSection(null, c.output().convertToLora()), c.pruning());
        String json = ConfigJson.write(c);
        String plugins = options.executorPluginsDir() != null ? options.executorPluginsDir()
                : options.pluginsDir().toString();
        return new WorkerSpec(json, plugins, plugins + "\n" + json);
    }
}
