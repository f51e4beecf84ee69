package io.peft4j.core.cli;

import io.peft4j.core.plugin.PluginRuntime;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code peft4j plugins}: installed plugins, their extensions, and any that failed with the reason. */
@Command(name = "plugins", description = "List installed plugins and extensions, and any plugin that failed, with why.")
final class PluginsCommand implements Callable<Integer> {
    @Mixin
    PluginOptions plugins = new PluginOptions();

    @Override
    public Integer call() {
        try (PluginRuntime rt = plugins.start()) {
            System.out.println(rt.report().render());
            return rt.report().hasFailures() ? 1 : 0;
        }
    }
}
