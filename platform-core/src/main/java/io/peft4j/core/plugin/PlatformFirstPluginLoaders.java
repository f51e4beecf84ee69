package io.peft4j.core.plugin;

import java.nio.file.Path;
import org.pf4j.CompoundPluginLoader;
import org.pf4j.DefaultPluginLoader;
import org.pf4j.DevelopmentPluginLoader;
import org.pf4j.JarPluginLoader;
import org.pf4j.PluginClassLoader;
import org.pf4j.PluginDescriptor;
import org.pf4j.PluginLoader;
import org.pf4j.PluginManager;
import org.pf4j.RuntimeMode;

/**
 * PF4J's three plugin loaders (development directories, plain jars, unpacked zips/directories), each creating a
 * {@link PlatformFirstClassLoader} whose parent is the platform's API-only view ({@link PlatformApiClassLoader}).
 */
final class PlatformFirstPluginLoaders {

    private PlatformFirstPluginLoaders() {
    }

    /** The same loader chain as {@code DefaultPluginManager.createPluginLoader()}, with platform-first class loaders. */
    static PluginLoader create(PluginManager pm) {
        return new CompoundPluginLoader()
                .add(new Development(pm), () -> pm.getRuntimeMode() == RuntimeMode.DEVELOPMENT)
                .add(new Jar(pm), () -> pm.getRuntimeMode() != RuntimeMode.DEVELOPMENT)
                .add(new Default(pm), () -> pm.getRuntimeMode() != RuntimeMode.DEVELOPMENT);
    }

    /** One API-only view of the platform, shared by every plugin class loader as its parent. */
    private static final ClassLoader API = new PlatformApiClassLoader(PlatformFirstPluginLoaders.class.getClassLoader());

    private static PluginClassLoader newLoader(PluginManager pm, PluginDescriptor descriptor) {
        return new PlatformFirstClassLoader(pm, descriptor, API);
    }

    static final class Jar extends JarPluginLoader {
        Jar(PluginManager pm) {
            super(pm);
        }

        @Override
        protected PluginClassLoader createPluginClassLoader(Path pluginPath, PluginDescriptor descriptor) {
            return newLoader(pluginManager, descriptor);
        }
    }

    static final class Default extends DefaultPluginLoader {
        Default(PluginManager pm) {
            super(pm);
        }

        @Override
        protected PluginClassLoader createPluginClassLoader(Path pluginPath, PluginDescriptor descriptor) {
            return newLoader(pluginManager, descriptor);
        }
    }

    static final class Development extends DevelopmentPluginLoader {
        Development(PluginManager pm) {
            super(pm);
        }

        @Override
        protected PluginClassLoader createPluginClassLoader(Path pluginPath, PluginDescriptor descriptor) {
            return newLoader(pluginManager, descriptor);
        }
    }
}
