package io.peft4j.core.cli;

/**
 * A picocli {@code @Command} from a module beside the core (such as {@code peft4j serve}), found with
 * {@link java.util.ServiceLoader} (listed in {@code META-INF/services/io.peft4j.core.cli.CliExtension}) and added as
 * a subcommand of {@code peft4j}. The core cannot name these classes: the modules depend on it.
 */
public interface CliExtension {
}
