package io.peft4j.core.plugin;

import java.nio.file.Path;
import java.util.Objects;

/**
 * One thing that went wrong (or looks wrong) with one plugin, in words a user can act on.
 *
 * @param kind    what happened
 * @param subject the plugin id, or the file name when the plugin's descriptor could not be read
 * @param path    the plugin's jar or directory; may be {@code null} for problems not tied to a file
 * @param reason  a human-readable explanation naming the versions, plugins or classes involved
 */
public record PluginProblem(Kind kind, String subject, Path path, String reason) {

    public PluginProblem {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(subject, "subject");
        Objects.requireNonNull(reason, "reason");
    }

    /** How serious a problem is. */
    public enum Severity {
        /** The plugin, or one of its extensions, is not available. */
        ERROR,
        /** Everything works, but the plugin should be fixed. */
        WARNING
    }

    /** The kinds of problem the runtime detects. */
    public enum Kind {
        /** The jar/directory has no readable descriptor, or the descriptor lacks a required field. */
        INVALID_DESCRIPTOR(Severity.ERROR),
        /** A second plugin with an id that is already loaded; the second one is not loaded. */
        DUPLICATE_PLUGIN_ID(Severity.ERROR),
        /** The descriptor was fine but PF4J could not load the plugin (class loader, plugin class). */
        LOAD_FAILED(Severity.ERROR),
        /** {@code Plugin-Requires} does not accept this platform's API version; the plugin is disabled. */
        REQUIRES_UNSATISFIED(Severity.ERROR),
        /** A required plugin dependency is not installed; the plugin is dropped. */
        MISSING_DEPENDENCY(Severity.ERROR),
        /** A required plugin dependency is installed in a version outside the required range; dropped. */
        WRONG_DEPENDENCY_VERSION(Severity.ERROR),
        /** Plugins depend on each other in a cycle; none of them can be resolved. */
        CYCLIC_DEPENDENCY(Severity.ERROR),
        /** A required dependency is disabled or failed, so this plugin is not started. */
        DEPENDENCY_NOT_STARTED(Severity.ERROR),
        /** The plugin's {@code start()} threw; the plugin is FAILED and contributes nothing. */
        START_FAILED(Severity.ERROR),
        /** An extension could not be created (injection failed, constructor threw, id missing). */
        EXTENSION_FAILED(Severity.ERROR),
        /** An extension claims a method/extension id that another plugin registered first; it is rejected. */
        DUPLICATE_EXTENSION_ID(Severity.ERROR),
        /** The jar bundles its own copies of platform classes (DJL, the peft4j API ...); they are ignored. */
        BUNDLES_PLATFORM_CLASSES(Severity.WARNING),
        /** DJL's engine could not be initialised before plugins were loaded. */
        ENGINE_UNAVAILABLE(Severity.WARNING);

        private final Severity severity;

        Kind(Severity severity) {
            this.severity = severity;
        }

        public Severity severity() {
            return severity;
        }
    }

    public Severity severity() {
        return kind.severity();
    }

    public boolean isError() {
        return severity() == Severity.ERROR;
    }
}
