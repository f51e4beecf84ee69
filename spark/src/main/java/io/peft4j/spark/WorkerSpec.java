package io.peft4j.spark;

import com.fasterxml.jackson.databind.node.ObjectNode;
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
        // Only what changes a micro-batch's gradient is kept, so that e.g. a resumed run reuses the replica. Edited
        // as JSON (not by record constructors) so that new config fields need no change here.
        ObjectNode root = (ObjectNode) ConfigJson.tree(ConfigJson.write(c));
        ObjectNode training = root.putObject("training");
        training.put("seed", c.training().seed());
        training.put("progress_bar", false);
        if (c.training().gradientCheckpointing() != null) {
            training.put("gradient_checkpointing", c.training().gradientCheckpointing());
        }
        if (root.get("data") instanceof ObjectNode data) {
            data.remove(java.util.List.of("train", "eval", "eval_fraction"));
        }
        ObjectNode output = root.putObject("output");
        output.put("convert_to_lora", c.output().convertToLora());
        String json = root.toString();
        String plugins = options.executorPluginsDir() != null ? options.executorPluginsDir()
                : options.pluginsDir().toString();
        return new WorkerSpec(json, plugins, plugins + "\n" + json);
    }
}
