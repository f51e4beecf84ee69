package io.peft4j.core.cli;

import io.peft4j.core.config.RunConfigParser;
import io.peft4j.core.run.DataPreview;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code peft4j data preview CONFIG}: how the config's data is rendered, masked and counted. */
@Command(name = "data", description = "Inspect training data.", subcommands = DataCommand.Preview.class)
final class DataCommand implements Runnable {
    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }

    @Command(name = "preview", mixinStandardHelpOptions = true,
            description = "Show the first examples as the model sees them (chat template applied), where the loss "
                    + "mask starts and ends, and token counts per file. Reads the tokenizer only.")
    static final class Preview implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "CONFIG", description = "Run configuration (model and data sections).")
        Path config;

        @Option(names = {"-n", "--examples"}, paramLabel = "N", defaultValue = "3",
                description = "How many examples to show (default: ${DEFAULT-VALUE}).")
        int examples;

        @Override
        public Integer call() {
            System.out.print(DataPreview.of(RunConfigParser.parse(config), examples));
            return 0;
        }
    }
}
