package io.peft4j.core.plugin;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * What the plugin runtime found: every plugin (loaded, disabled, failed or dropped) with its extensions, and
 * every problem, each naming the plugin (or the file, when no descriptor could be read) and a reason.
 * {@link #render()} formats it for {@code peft4j plugins}.
 *
 * @param apiVersion   the platform API version plugins are checked against
 * @param pluginsRoot  the directory that was scanned
 * @param plugins            every plugin with a readable descriptor, by ascending id
 * @param platformExtensions extensions found on the platform's own classpath (not in any plugin)
 * @param problems           every problem, in the order found
 */
public record PluginReport(String apiVersion, Path pluginsRoot, List<PluginInfo> plugins,
                           List<ExtensionInfo> platformExtensions, List<PluginProblem> problems) {

    public PluginReport {
        Objects.requireNonNull(apiVersion, "apiVersion");
        plugins = List.copyOf(plugins);
        platformExtensions = List.copyOf(platformExtensions);
        problems = List.copyOf(problems);
    }

    /** One extension as listed in the report. */
    public record ExtensionInfo(String kind, String id, String className, String description) {
    }

    /**
     * One plugin.
     *
     * @param state      PF4J's state, or {@code null} when the plugin was dropped during dependency resolution
     * @param extensions the extensions registered from this plugin (empty unless started)
     */
    public record PluginInfo(String id, String version, String state, String provider, String requires,
                             List<String> dependencies, Path path, List<ExtensionInfo> extensions) {
        public PluginInfo {
            dependencies = List.copyOf(dependencies);
            extensions = List.copyOf(extensions);
        }

        public boolean isStarted() {
            return "STARTED".equals(state);
        }
    }

    /** State shown for plugins PF4J unloaded during dependency resolution. */
    public static final String DROPPED = "NOT_LOADED";

    /** The plugin with this id. */
    public Optional<PluginInfo> plugin(String id) {
        return plugins.stream().filter(p -> p.id().equals(id)).findFirst();
    }

    /** Problems of severity ERROR. */
    public List<PluginProblem> failures() {
        return problems.stream().filter(PluginProblem::isError).toList();
    }

    /** Problems of severity WARNING. */
    public List<PluginProblem> warnings() {
        return problems.stream().filter(p -> !p.isError()).toList();
    }

    /** Problems about one plugin id or file name. */
    public List<PluginProblem> problemsOf(String subject) {
        return problems.stream().filter(p -> p.subject().equals(subject)).toList();
    }

    /** Whether there is any ERROR problem. */
    public boolean hasFailures() {
        return problems.stream().anyMatch(PluginProblem::isError);
    }

    /**
     * A plain-text report: the plugins table (with each plugin's extensions below it), then the problems table.
     * Columns are padded with spaces; no colours.
     */
    public String render() {
        StringBuilder out = new StringBuilder();
        out.append("Plugins in ").append(pluginsRoot).append(" (platform API ").append(apiVersion).append(")\n");
        if (plugins.isEmpty()) {
            out.append("  no plugins found\n");
        } else {
            TextTable t = new TextTable("PLUGIN", "VERSION", "STATE", "PROVIDER", "FILE");
            for (PluginInfo p : plugins) {
                t.row(p.id(), p.version(), p.state() == null ? DROPPED : p.state(), orDash(p.provider()),
                        p.path() == null ? "-" : String.valueOf(p.path().getFileName()));
                for (ExtensionInfo e : p.extensions()) {
                    t.row("  " + e.kind() + " " + e.id(), "", "", "", orDash(e.description()));
                }
            }
            t.appendTo(out);
        }
        if (!platformExtensions.isEmpty()) {
            out.append('\n').append("Built into the platform\n");
            TextTable t = new TextTable("EXTENSION", "DESCRIPTION");
            for (ExtensionInfo e : platformExtensions) {
                t.row(e.kind() + " " + e.id(), orDash(e.description()));
            }
            t.appendTo(out);
        }
        if (!problems.isEmpty()) {
            out.append('\n').append("Problems (").append(count(failures().size(), "error")).append(", ")
                    .append(count(warnings().size(), "warning")).append(")\n");
            TextTable t = new TextTable("SEVERITY", "PLUGIN/FILE", "PROBLEM", "REASON");
            for (PluginProblem p : problems) {
                t.row(p.severity().name(), p.subject(), p.kind().name(), p.reason());
            }
            t.appendTo(out);
        }
        return out.toString();
    }

    private static String count(int n, String noun) {
        return n + " " + noun + (n == 1 ? "" : "s");
    }

    private static String orDash(String s) {
        return s == null || s.isBlank() ? "-" : s;
    }

    /** Left-aligned columns; the last column is not padded. */
    private static final class TextTable {
        private final List<String[]> rows = new ArrayList<>();

        TextTable(String... header) {
            rows.add(header);
        }

        void row(String... cells) {
            rows.add(cells);
        }

        void appendTo(StringBuilder out) {
            int n = rows.get(0).length;
            int[] width = new int[n];
            for (String[] r : rows) {
                for (int i = 0; i < n - 1; i++) {
                    width[i] = Math.max(width[i], r[i].length());
                }
            }
            for (String[] r : rows) {
                StringBuilder line = new StringBuilder("  ");
                for (int i = 0; i < n; i++) {
                    line.append(r[i]);
                    if (i < n - 1) {
                        line.append(" ".repeat(width[i] - r[i].length() + 2));
                    }
                }
                out.append(line.toString().stripTrailing()).append('\n');
            }
        }
    }
}
