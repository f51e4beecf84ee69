package io.peft4j.core.plugin;

import java.io.IOException;
import java.net.URL;
import java.util.Collections;
import java.util.Enumeration;
import java.util.List;

/**
 * The parent of every plugin class loader: the JDK's platform class loader plus an explicit allow-list of the
 * platform's classes (as Trino's plugin loader does). A plugin sees the SPI ({@code io.peft4j.api}), DJL's API,
 * Jackson, Guice / jakarta.inject, SLF4J and PF4J from the platform, and nothing else: loading
 * {@code io.peft4j.core.*}, the CLI library, EJML or DJL's PyTorch engine classes fails with
 * {@link ClassNotFoundException}, so undeclared dependencies on platform internals fail at once instead of working
 * by accident.
 */
final class PlatformApiClassLoader extends ClassLoader {

    /** Package prefixes (with trailing dot) a plugin may load from the platform. */
    static final List<String> ALLOWED = List.of(
            "io.peft4j.api.",
            "ai.djl.",
            "com.fasterxml.jackson.annotation.",
            "com.fasterxml.jackson.core.",
            "com.fasterxml.jackson.databind.",
            "com.google.inject.",
            "jakarta.inject.",
            "org.slf4j.",
            "org.pf4j.");

    /** Inside the allowed prefixes but internal to the platform: the tensor engine's implementation. */
    static final List<String> DENIED = List.of("ai.djl.pytorch.");

    private final ClassLoader platform;

    PlatformApiClassLoader(ClassLoader platform) {
        super("peft4j-plugin-api", ClassLoader.getPlatformClassLoader());
        this.platform = platform;
    }

    static boolean allowed(String className) {
        for (String d : DENIED) {
            if (className.startsWith(d)) {
                return false;
            }
        }
        for (String a : ALLOWED) {
            if (className.startsWith(a)) {
                return true;
            }
        }
        return false;
    }

    @Override
    protected Class<?> findClass(String name) throws ClassNotFoundException {
        if (allowed(name)) {
            return platform.loadClass(name);
        }
        throw new ClassNotFoundException(name + " is not part of the plugin API (a plugin may use io.peft4j.api, DJL's "
                + "API, Jackson, Guice, SLF4J and PF4J from the platform; bundle anything else in the plugin)");
    }

    @Override
    protected URL findResource(String name) {
        return allowed(name.replace('/', '.')) ? platform.getResource(name) : null;
    }

    @Override
    protected Enumeration<URL> findResources(String name) throws IOException {
        return allowed(name.replace('/', '.')) ? platform.getResources(name) : Collections.emptyEnumeration();
    }
}
