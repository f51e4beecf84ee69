package io.peft4j.core.plugin;

import java.util.List;
import org.pf4j.ClassLoadingStrategy;
import org.pf4j.PluginClassLoader;
import org.pf4j.PluginDescriptor;
import org.pf4j.PluginManager;

/**
 * A plugin class loader that always takes the platform's shared libraries from the platform (parent-first for an
 * allow-list of packages), and everything else plugin-first ({@link ClassLoadingStrategy#PDA PDA}: plugin, then
 * dependencies, then application).
 *
 * <p>Why: an extension is only usable if its interfaces ({@code io.peft4j.api.*}) are the platform's classes - a
 * plugin-local copy makes PF4J drop the extension ("different class loaders"). DJL must exist exactly once
 * because its JNI library can be bound to a single class loader, and tensors cross the plugin boundary. Guice,
 * jakarta.inject, Jackson, SLF4J and PF4J are shared so that injection, configuration records and logging work
 * across the boundary. A plugin jar that bundles any of these anyway still works: its copies are never loaded.
 */
public class PlatformFirstClassLoader extends PluginClassLoader {

    /**
     * Package prefixes (with trailing dot) that are always loaded from the platform, never from a plugin.
     */
    public static final List<String> PLATFORM_PACKAGES = List.of(
            "io.peft4j.api.",
            "ai.djl.",
            "com.google.inject.",
            "jakarta.inject.",
            "com.fasterxml.jackson.",
            "org.slf4j.",
            "org.pf4j.");

    public PlatformFirstClassLoader(PluginManager pluginManager, PluginDescriptor descriptor, ClassLoader parent) {
        super(pluginManager, descriptor, parent, ClassLoadingStrategy.PDA);
    }

    /** Whether a class of this binary name is always taken from the platform. */
    public static boolean isPlatformClass(String className) {
        for (String prefix : PLATFORM_PACKAGES) {
            if (className.startsWith(prefix)) {
                return true;
            }
        }
        return false;
    }

    @Override
    protected boolean shouldDelegateToParent(String className) {
        return isPlatformClass(className) || super.shouldDelegateToParent(className);
    }
}
