package io.peft4j.core.plugin;

import com.google.inject.Injector;
import com.google.inject.Module;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import org.pf4j.ExtensionFactory;
import org.pf4j.PluginManager;
import org.pf4j.PluginWrapper;

/**
 * Creates PF4J extensions with Guice: one child injector per plugin, below the platform's root injector.
 *
 * <p>A plugin's child injector installs the plugin's own bindings when its {@code Plugin} class also implements
 * {@link Module}, and binds every extension class of the plugin explicitly. The explicit binding keeps the
 * extension (and its plugin class loader) out of the root injector: without it Guice would create just-in-time
 * bindings in the root whenever the dependencies allow, sharing singletons across plugins and pinning class
 * loaders. Extensions on the platform's own classpath are created by the root injector.
 *
 * <p>Extension constructors may {@code @Inject} anything the root binds (platform services) or the plugin module
 * binds.
 */
public final class GuiceExtensionFactory implements ExtensionFactory {

    private final Injector root;
    private final PluginManager pluginManager;
    private final Map<String, Injector> perPlugin = new ConcurrentHashMap<>();

    public GuiceExtensionFactory(Injector root, PluginManager pluginManager) {
        this.root = Objects.requireNonNull(root, "root");
        this.pluginManager = Objects.requireNonNull(pluginManager, "pluginManager");
    }

    /**
     * Creates an instance of an extension class.
     *
     * @throws com.google.inject.ConfigurationException  if Guice cannot build the class
     * @throws com.google.inject.ProvisionException      if its constructor or a dependency throws
     * @throws com.google.inject.CreationException       if the plugin's child injector cannot be created
     */
    @Override
    public <T> T create(Class<T> extensionClass) {
        PluginWrapper plugin = pluginManager.whichPlugin(extensionClass);
        if (plugin == null) {
            return root.getInstance(extensionClass);
        }
        return injectorFor(plugin.getPluginId()).getInstance(extensionClass);
    }

    /** The child injector of a started plugin, created on first use. */
    public Injector injectorFor(String pluginId) {
        return perPlugin.computeIfAbsent(pluginId, this::createChild);
    }

    /** Drops a plugin's injector (when the plugin is stopped or unloaded). */
    void forget(String pluginId) {
        perPlugin.remove(pluginId);
    }

    /** The root injector. */
    public Injector root() {
        return root;
    }

    private Injector createChild(String pluginId) {
        PluginWrapper wrapper = pluginManager.getPlugin(pluginId);
        if (wrapper == null) {
            throw new IllegalArgumentException("Unknown plugin '" + pluginId + "'");
        }
        Module pluginModule = wrapper.getPlugin() instanceof Module m ? m : binder -> { };
        List<Class<?>> extensionClasses = pluginManager.getExtensionClasses(pluginId);
        Module extensionBindings = binder -> extensionClasses.forEach(binder::bind);
        return root.createChildInjector(pluginModule, extensionBindings);
    }
}
