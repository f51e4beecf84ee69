package io.peft4j.core.cli;

import ai.djl.engine.Engine;
import io.peft4j.core.plugin.PluginRuntime;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * The options every command shares: where plugins live, which device, how many threads. Public so that commands of
 * optional modules ({@link CliExtension}, e.g. {@code peft4j serve}) mix in the same options ({@code @Mixin}).
 */
public final class PluginOptions {
    @Option(names = "--plugins", paramLabel = "DIR",
            description = "Plugins directory (default: plugins/ beside the launcher, or -Dpeft4j.plugins.dir).")
    Path pluginsDir;

    @Option(names = "--threads", paramLabel = "N", description = "CPU threads for tensor ops (default: all cores).")
    Integer threads;

    public PluginRuntime start() {
        return start("cpu");
    }

    /** Starts the engine and the plugins for a run on {@code device} (a config's {@code model.device}). */
    public PluginRuntime start(String device) {
        if (device != null && !device.trim().equalsIgnoreCase("cpu")) {
            LogDefaults.gpuRequested();
        }
        if (threads != null) {
            System.setProperty("ai.djl.pytorch.num_threads", String.valueOf(threads));
            System.setProperty("ai.djl.pytorch.num_interop_threads", "1");
        }
        Engine.getInstance();
        return PluginRuntime.start(pluginsDir != null ? pluginsDir : PluginRuntime.defaultPluginsDir());
    }
}
