package io.peft4j.core.plugin;

import ai.djl.engine.Engine;
import com.google.inject.Guice;
import com.google.inject.Injector;
import com.google.inject.Key;
import io.peft4j.api.LinearAlgebra;
import io.peft4j.core.linalg.PlatformServicesModule;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.CodeSource;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import org.pf4j.PluginDependency;
import org.pf4j.PluginDescriptor;
import org.pf4j.PluginManager;
import org.pf4j.PluginWrapper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The platform's plugin runtime: loads the PF4J plugins of one directory, starts them, creates their extensions
 * with Guice and keeps them in an {@link InstalledExtensions} registry, and records everything that went wrong in
 * a {@link PluginReport}. A broken plugin never stops the others.
 *
 * <p>Start-up sequence ({@link #start(Path, Injector)}):
 * <ol>
 *   <li>DJL's engine is initialised eagerly, on the platform's thread: DJL finds its native library through the
 *       thread context class loader, which must be the platform's, not a plugin's;</li>
 *   <li>each jar/directory is loaded on its own (see {@link PeftPluginManager}), with a
 *       {@link PlatformFirstClassLoader}; the PF4J system version is {@link PlatformVersion#apiVersion()}, so
 *       {@code Plugin-Requires} ranges are checked against the platform API version;</li>
 *   <li>plugins bundling copies of platform classes are reported as warnings (they still work);</li>
 *   <li>resolved plugins are started in dependency order;</li>
 *   <li>extensions of started plugins are created once and registered by kind and id.</li>
 * </ol>
 * {@link #close()} stops the plugins (dependents first) and closes their class loaders; extensions must not be
 * used afterwards.
 */
public final class PluginRuntime implements AutoCloseable {

    /** System property that overrides {@link #defaultPluginsDir()}. */
    public static final String PLUGINS_DIR_PROPERTY = "peft4j.plugins.dir";

    private static final Logger log = LoggerFactory.getLogger(PluginRuntime.class);

    private final PeftPluginManager manager;
    private final GuiceExtensionFactory factory;
    private final InstalledExtensions extensions;
    private final PluginReport report;
    private boolean closed;

    private PluginRuntime(PeftPluginManager manager, GuiceExtensionFactory factory, InstalledExtensions extensions,
                          PluginReport report) {
        this.manager = manager;
        this.factory = factory;
        this.extensions = extensions;
        this.report = report;
    }

    /**
     * Starts the runtime on {@code pluginsDir} with the platform services ({@link PlatformServicesModule}: e.g.
     * {@link io.peft4j.api.LinearAlgebra}) bound in the root injector for extensions to inject.
     */
    public static PluginRuntime start(Path pluginsDir) {
        return start(pluginsDir, Guice.createInjector(new PlatformServicesModule()));
    }

    /**
     * Starts the runtime on {@code pluginsDir}. A missing directory means no plugins (not an error).
     *
     * @param root the platform's injector; extensions may {@code @Inject} what it binds. Each plugin gets a child.
     */
    public static PluginRuntime start(Path pluginsDir, Injector root) {
        Objects.requireNonNull(pluginsDir, "pluginsDir");
        Objects.requireNonNull(root, "root");
        if (root.getExistingBinding(Key.get(LinearAlgebra.class)) == null) {
            root = root.createChildInjector(new PlatformServicesModule());   // a caller's root without the services
        }
        Path dir = pluginsDir.toAbsolutePath().normalize();
        String apiVersion = PlatformVersion.apiVersion();

        PeftPluginManager manager = new PeftPluginManager(dir, apiVersion);
        GuiceExtensionFactory factory = new GuiceExtensionFactory(root, manager);
        manager.useExtensionFactory(factory);

        initialiseEngine(manager);
        log.info("Loading plugins from {} (platform API {})", dir, apiVersion);
        manager.loadPlugins();
        warnAboutBundledPlatformClasses(manager);
        manager.startPlugins();
        ExtensionRegistrar registrar = new ExtensionRegistrar(manager, factory);
        InstalledExtensions extensions = registrar.register();
        PluginReport report = buildReport(manager, registrar, dir, apiVersion);
        log.info("Plugins: {} started, {} problems; adapters: {}", manager.getStartedPlugins().size(),
                report.problems().size(), extensions.ids(ExtensionKind.ADAPTER));
        return new PluginRuntime(manager, factory, extensions, report);
    }

    /**
     * Where plugins live by default: the {@value #PLUGINS_DIR_PROPERTY} system property if set; otherwise
     * {@code plugins/} beside the launcher jar (beside its {@code lib/} directory when the jar is in one); when
     * running from class directories (IDE, tests), {@code plugins/} in the working directory.
     */
    public static Path defaultPluginsDir() {
        String configured = System.getProperty(PLUGINS_DIR_PROPERTY);
        if (configured != null && !configured.isBlank()) {
            return Path.of(configured).toAbsolutePath();
        }
        try {
            CodeSource source = PluginRuntime.class.getProtectionDomain().getCodeSource();
            if (source != null) {
                Path location = Path.of(source.getLocation().toURI());
                if (Files.isRegularFile(location) && location.getParent() != null) {
                    Path dir = location.getParent();
                    if (dir.getFileName() != null && dir.getFileName().toString().equals("lib")
                            && dir.getParent() != null) {
                        dir = dir.getParent();
                    }
                    return dir.resolve("plugins");
                }
            }
        } catch (URISyntaxException | RuntimeException e) {
            log.debug("Cannot locate the launcher jar; using ./plugins", e);
        }
        return Path.of("plugins").toAbsolutePath();
    }

    /** The registry of the started plugins' extensions. */
    public InstalledExtensions extensions() {
        return extensions;
    }

    /** What was found at start-up: plugins, their extensions, problems. */
    public PluginReport report() {
        return report;
    }

    /** The root injector extensions' child injectors derive from. */
    public Injector rootInjector() {
        return factory.root();
    }

    /** The underlying PF4J manager (for the plugin class loaders, {@code whichPlugin}, ...). */
    public PluginManager pluginManager() {
        return manager;
    }

    /** Stops all plugins (dependents first) and closes their class loaders. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        manager.stopPlugins();
        for (PluginWrapper w : manager.getPlugins()) {
            factory.forget(w.getPluginId());
        }
        try {
            manager.unloadPlugins();
        } catch (RuntimeException e) {
            log.warn("Unloading plugins failed: {}", Reasons.describe(e), e);
        }
    }

    // ------------------------------------------------------------------------------------------------

    private static void initialiseEngine(PeftPluginManager manager) {
        try {
            Engine engine = Engine.getInstance();
            log.debug("DJL engine {} {} ready", engine.getEngineName(), engine.getVersion());
        } catch (RuntimeException | LinkageError e) {
            manager.addProblem(new PluginProblem(PluginProblem.Kind.ENGINE_UNAVAILABLE, "djl", null,
                    "the DJL engine could not be initialised, so no tensor work is possible: " + Reasons.describe(e)));
        }
    }

    private static void warnAboutBundledPlatformClasses(PeftPluginManager manager) {
        for (PluginWrapper w : manager.getPlugins()) {
            Set<String> bundled = BundledPlatformClasses.find(w.getPluginPath());
            if (!bundled.isEmpty()) {
                manager.addProblem(new PluginProblem(PluginProblem.Kind.BUNDLES_PLATFORM_CLASSES, w.getPluginId(),
                        w.getPluginPath(), "bundles its own copies of platform classes under " + String.join(", ", bundled)
                        + "; they are ignored (the platform's are used). Declare platform-api and DJL as "
                        + "'provided' dependencies"));
            }
        }
    }

    private static PluginReport buildReport(PeftPluginManager manager, ExtensionRegistrar registrar, Path dir,
                                            String apiVersion) {
        List<PluginReport.PluginInfo> infos = new ArrayList<>();
        for (PluginWrapper w : manager.getPlugins()) {
            infos.add(info(w, w.getPluginState().name(), registrar));
        }
        for (PluginWrapper w : manager.droppedPlugins().values()) {
            infos.add(info(w, null, registrar));
        }
        infos.sort(Comparator.comparing(PluginReport.PluginInfo::id));
        List<PluginProblem> problems = new ArrayList<>(manager.problems());
        return new PluginReport(apiVersion, dir, infos, extensionInfos(registrar.registeredBy(null)), problems);
    }

    private static PluginReport.PluginInfo info(PluginWrapper w, String state, ExtensionRegistrar registrar) {
        PluginDescriptor d = w.getDescriptor();
        List<String> deps = d.getDependencies().stream().map(PluginDependency::toString).toList();
        return new PluginReport.PluginInfo(d.getPluginId(), d.getVersion(), state, d.getProvider(), d.getRequires(),
                deps, w.getPluginPath(), extensionInfos(registrar.registeredBy(w.getPluginId())));
    }

    private static List<PluginReport.ExtensionInfo> extensionInfos(List<InstalledExtension<?>> installed) {
        return installed.stream()
                .map(e -> new PluginReport.ExtensionInfo(e.kind().label(), e.id(),
                        e.extension().getClass().getName(), e.description()))
                .toList();
    }
}
