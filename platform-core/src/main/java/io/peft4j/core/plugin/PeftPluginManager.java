package io.peft4j.core.plugin;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.pf4j.AbstractPluginManager;
import org.pf4j.DefaultPluginManager;
import org.pf4j.ExtensionFactory;
import org.pf4j.PluginDependency;
import org.pf4j.PluginDescriptor;
import org.pf4j.PluginLoader;
import org.pf4j.PluginRuntimeException;
import org.pf4j.PluginState;
import org.pf4j.PluginWrapper;
import org.pf4j.util.FileUtils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * PF4J's {@link DefaultPluginManager} with the fixes and reporting the platform needs (PF4J 3.15.0):
 * <ul>
 *   <li>plugins are loaded one path at a time, so an unreadable descriptor or a duplicate id costs only that
 *       plugin, and each failure is recorded with the file name;</li>
 *   <li>a plugin whose required dependency is missing or installed in the wrong version is dropped (with its
 *       dependents) and the reason recorded, before PF4J resolves the rest; PF4J's own
 *       {@link AbstractPluginManager.ResolveRecoveryStrategy#IGNORE_PLUGIN_AND_CONTINUE} stays set as a safety net
 *       (it drops silently, and for a wrong version drops the healthy dependency instead - see
 *       {@link #resolvePlugins()});</li>
 *   <li>{@link #startPlugins()} starts each resolved plugin with {@code startPlugin(id)} in dependency order and
 *       refuses to start a plugin whose required dependency is not started (the bulk PF4J version ignores
 *       dependency state);</li>
 *   <li>{@link #stopPlugins()} stops a reversed copy of the started list one by one (the PF4J version throws
 *       ConcurrentModificationException, pf4j#656);</li>
 *   <li>plugin class loaders are {@link PlatformFirstClassLoader}s;</li>
 *   <li>extensions are created by the {@link GuiceExtensionFactory} set with {@link #useExtensionFactory}
 *       ({@code getExtensionFactory()} is overridden because the super constructor creates the factory before
 *       subclass fields exist).</li>
 * </ul>
 * Not thread-safe, like PF4J's managers.
 */
final class PeftPluginManager extends DefaultPluginManager {

    private static final Logger log = LoggerFactory.getLogger(PeftPluginManager.class);

    private final List<PluginProblem> problems = new ArrayList<>();
    /** Plugins PF4J unloaded during resolution (missing/wrong dependencies), with their descriptor and path. */
    private final Map<String, PluginWrapper> dropped = new LinkedHashMap<>();
    private final Set<String> requiresReported = new HashSet<>();
    private ExtensionFactory extensionFactory;

    PeftPluginManager(Path pluginsRoot, String systemVersion) {
        super(pluginsRoot);
        setSystemVersion(systemVersion);
        setResolveRecoveryStrategy(ResolveRecoveryStrategy.IGNORE_PLUGIN_AND_CONTINUE);
    }

    void useExtensionFactory(ExtensionFactory factory) {
        this.extensionFactory = factory;
    }

    @Override
    public ExtensionFactory getExtensionFactory() {
        return extensionFactory != null ? extensionFactory : super.getExtensionFactory();
    }

    @Override
    protected PluginLoader createPluginLoader() {
        return PlatformFirstPluginLoaders.create(this);
    }

    /** Problems found while loading, resolving and starting, in the order they happened. */
    List<PluginProblem> problems() {
        return Collections.unmodifiableList(problems);
    }

    /** Plugins dropped during dependency resolution, by id. */
    Map<String, PluginWrapper> droppedPlugins() {
        return Collections.unmodifiableMap(dropped);
    }

    void addProblem(PluginProblem problem) {
        (problem.isError() ? log.atError() : log.atWarn()).log("Plugin '{}': {}", problem.subject(), problem.reason());
        problems.add(problem);
    }

    // ---------------------------------------------------------------- loading

    @Override
    public void loadPlugins() {
        List<Path> paths;
        try {
            paths = pluginRepository.getPluginPaths();
        } catch (RuntimeException e) {
            addProblem(new PluginProblem(PluginProblem.Kind.LOAD_FAILED, String.valueOf(getPluginsRoot()),
                    getPluginsRoot(), "cannot list the plugins directory: " + Reasons.describe(e)));
            return;
        }
        for (Path path : paths) {
            loadOne(path);
        }
        resolvePlugins();
    }

    private void loadOne(Path path) {
        String fileName = String.valueOf(path.getFileName());
        // Read the descriptor first, so that a bad one is reported as such (PF4J's messages don't say so).
        PluginDescriptor descriptor = null;
        if (!FileUtils.isZipFile(path)) { // zips are unpacked by loadPluginFromPath; their descriptor is inside
            try {
                descriptor = getPluginDescriptorFinder().find(path);
                validatePluginDescriptor(descriptor);
            } catch (RuntimeException e) {
                addProblem(new PluginProblem(PluginProblem.Kind.INVALID_DESCRIPTOR, fileName, path,
                        "invalid or missing plugin descriptor (MANIFEST.MF Plugin-Id/Plugin-Version or "
                                + "plugin.properties): " + Reasons.describe(e)));
                return;
            }
            PluginWrapper existing = plugins.get(descriptor.getPluginId());
            if (existing != null) {
                addProblem(new PluginProblem(PluginProblem.Kind.DUPLICATE_PLUGIN_ID, descriptor.getPluginId(), path,
                        "plugin id '" + descriptor.getPluginId() + "' is already used by " + existing.getPluginPath()
                                + "; " + fileName + " is not loaded"));
                return;
            }
        }
        try {
            loadPluginFromPath(path);
        } catch (RuntimeException | LinkageError e) {
            String subject = descriptor != null ? descriptor.getPluginId() : fileName;
            addProblem(new PluginProblem(PluginProblem.Kind.LOAD_FAILED, subject, path,
                    "cannot load: " + Reasons.describe(e)));
        }
    }

    /**
     * Drops plugins whose dependencies cannot be satisfied (recording why) before PF4J resolves the rest.
     *
     * <p>Why not leave it to PF4J's {@code IGNORE_PLUGIN_AND_CONTINUE}: in 3.15.0, for a dependency installed in
     * the wrong version it unloads the <em>dependency</em> (a healthy plugin) and then its dependents, and it logs
     * nothing about either. The strategy stays set as a safety net so a resolution problem never aborts loading.
     */
    @Override
    protected void resolvePlugins() {
        dropUnsatisfiable();
        Map<String, PluginWrapper> before = new LinkedHashMap<>(plugins);
        try {
            super.resolvePlugins();
        } catch (RuntimeException e) {
            // With IGNORE_PLUGIN_AND_CONTINUE only a dependency cycle still throws.
            addProblem(new PluginProblem(PluginProblem.Kind.CYCLIC_DEPENDENCY, "plugins", getPluginsRoot(),
                    "plugin dependencies form a cycle among " + before.keySet() + "; no plugin was resolved: "
                            + Reasons.describe(e)));
            return;
        }
        for (PluginWrapper w : before.values()) { // safety net: anything PF4J dropped on its own
            if (!plugins.containsKey(w.getPluginId()) && dropped.putIfAbsent(w.getPluginId(), w) == null) {
                addProblem(new PluginProblem(PluginProblem.Kind.MISSING_DEPENDENCY, w.getPluginId(),
                        w.getPluginPath(), "dropped by PF4J during dependency resolution (dependencies: "
                        + w.getDescriptor().getDependencies() + ")"));
            }
        }
        for (PluginWrapper w : getPlugins()) {
            if (w.getPluginState() == PluginState.DISABLED && w.getFailedException() != null
                    && requiresReported.add(w.getPluginId())) {
                // PF4J disabled it with "Plugin validation failed": its Plugin-Requires rejects the system version.
                addProblem(new PluginProblem(PluginProblem.Kind.REQUIRES_UNSATISFIED, w.getPluginId(),
                        w.getPluginPath(), "requires platform API version '"
                        + String.valueOf(w.getDescriptor().getRequires()).trim() + "' but this platform's API version is "
                        + getSystemVersion() + "; the plugin is disabled"));
            }
        }
    }

    /** Unloads, until nothing changes, every plugin with a missing required or wrong-version dependency. */
    private void dropUnsatisfiable() {
        boolean changed = true;
        while (changed) {
            changed = false;
            for (PluginWrapper w : new ArrayList<>(plugins.values())) {
                Unsatisfied u = unsatisfiedDependency(w);
                if (u == null) {
                    continue;
                }
                dropped.put(w.getPluginId(), w);
                unloadPlugin(w.getPluginId(), false);
                addProblem(new PluginProblem(u.kind(), w.getPluginId(), w.getPluginPath(),
                        u.reason() + "; the plugin is not loaded"));
                changed = true;
            }
        }
    }

    private record Unsatisfied(PluginProblem.Kind kind, String reason) {
    }

    /** {@code null} if every dependency is satisfied. */
    private Unsatisfied unsatisfiedDependency(PluginWrapper w) {
        for (PluginDependency dep : w.getDescriptor().getDependencies()) {
            String depId = dep.getPluginId();
            String range = dep.getPluginVersionSupport();
            PluginWrapper present = plugins.get(depId);
            if (present == null) {
                if (dep.isOptional()) {
                    continue;
                }
                return new Unsatisfied(PluginProblem.Kind.MISSING_DEPENDENCY, "requires plugin '" + depId + "'"
                        + rangeText(range) + (dropped.containsKey(depId) ? ", which was not loaded (see its own problem)"
                        : ", which is not installed"));
            }
            String version = present.getDescriptor().getVersion();
            if (range != null && !"*".equals(range) && !getVersionManager().checkVersionConstraint(version, range)) {
                return new Unsatisfied(PluginProblem.Kind.WRONG_DEPENDENCY_VERSION, "requires plugin '" + depId
                        + "'" + rangeText(range) + " but version " + version + " is installed");
            }
        }
        return null;
    }

    private static String rangeText(String range) {
        return range == null || "*".equals(range) ? "" : " version '" + range + "'";
    }

    // ---------------------------------------------------------------- starting and stopping

    @Override
    public void startPlugins() {
        // resolvedPlugins is in dependency order (dependencies first).
        for (PluginWrapper w : new ArrayList<>(getResolvedPlugins())) {
            PluginState state = w.getPluginState();
            if (state.isDisabled() || state.isStarted()) {
                continue;
            }
            PluginWrapper blocker = firstRequiredDependencyNotStarted(w);
            if (blocker != null) {
                String why = "required dependency '" + blocker.getPluginId() + "' is " + blocker.getPluginState();
                w.setPluginState(PluginState.FAILED);
                w.setFailedException(new PluginRuntimeException(why));
                addProblem(new PluginProblem(PluginProblem.Kind.DEPENDENCY_NOT_STARTED, w.getPluginId(),
                        w.getPluginPath(), why + "; the plugin is not started"));
                continue;
            }
            try {
                startPlugin(w.getPluginId());
            } catch (RuntimeException | LinkageError e) {
                // startPlugin catches Exception from Plugin.start() itself; this covers LinkageErrors and
                // failures creating the Plugin instance.
                w.setPluginState(PluginState.FAILED);
                w.setFailedException(e);
            }
            if (w.getPluginState().isFailed()) {
                Throwable t = w.getFailedException();
                addProblem(new PluginProblem(PluginProblem.Kind.START_FAILED, w.getPluginId(), w.getPluginPath(),
                        "start() failed: " + (t == null ? "unknown error" : Reasons.describe(t))
                                + "; its extensions are not available"));
            }
        }
    }

    private PluginWrapper firstRequiredDependencyNotStarted(PluginWrapper w) {
        for (PluginDependency dep : w.getDescriptor().getDependencies()) {
            PluginWrapper d = getPlugin(dep.getPluginId());
            if (d == null) {
                if (dep.isOptional()) {
                    continue;
                }
                return dropped.get(dep.getPluginId()); // dropped dependents are dropped too; defensive
            }
            if (!d.getPluginState().isStarted() && !dep.isOptional()) {
                return d;
            }
        }
        return null;
    }

    @Override
    public void stopPlugins() {
        List<PluginWrapper> started = new ArrayList<>(getStartedPlugins());
        Collections.reverse(started);
        for (PluginWrapper w : started) {
            if (!w.getPluginState().isStarted()) {
                continue;
            }
            try {
                stopPlugin(w.getPluginId());
            } catch (RuntimeException | LinkageError e) {
                log.error("Plugin '{}' failed to stop: {}", w.getPluginId(), Reasons.describe(e), e);
            }
        }
    }
}
