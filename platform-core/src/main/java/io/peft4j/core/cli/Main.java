package io.peft4j.core.cli;

import io.peft4j.api.ConfigException;
import io.peft4j.core.plugin.PlatformVersion;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code peft4j} command line. */
@Command(name = "peft4j", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Parameter-efficient fine-tuning of LLMs on the JVM; one plugin jar per method.",
        subcommands = {DemoCommand.class, TrainCommand.class, EvalCommand.class, GenerateCommand.class,
                MergeCommand.class, InspectCommand.class, PluginsCommand.class, CompareCommand.class, BenchCommand.class,
                CompareCommand.RunOne.class, DataCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the CLI and returns the exit code (2 for configuration errors, with a one-line message). */
    public static int run(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            Throwable t = ex;
            while (t.getCause() != null && !(t instanceof ConfigException)) {
                t = t.getCause();
            }
            if (t instanceof ConfigException || ex instanceof IllegalArgumentException
                    || ex instanceof io.peft4j.core.train.data.DatasetException
                    || ex instanceof java.io.UncheckedIOException || t instanceof RuntimeException
                    && t.getClass().getSimpleName().endsWith("LoadException")) {
                cmd.getErr().println("error: " + (t instanceof ConfigException ? t.getMessage() : ex.getMessage()));
                return 2;
            }
            throw ex;
        });
        return cl.execute(args);
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"peft4j " + PlatformVersion.buildVersion() + " (plugin API "
                    + PlatformVersion.apiVersion() + ")"};
        }
    }
}
