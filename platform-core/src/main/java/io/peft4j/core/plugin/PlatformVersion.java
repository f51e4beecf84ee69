package io.peft4j.core.plugin;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/**
 * The platform's versions, read from the Maven-filtered classpath resource
 * {@value #RESOURCE}. The {@linkplain #apiVersion() API version} is the PF4J "system version" that plugins
 * state their {@code Plugin-Requires} range against.
 */
public final class PlatformVersion {

    /** Classpath resource holding {@code version} and {@code api.version}. */
    public static final String RESOURCE = "io/peft4j/core/peft4j-version.properties";

    private static final Properties PROPERTIES = load();

    private PlatformVersion() {
    }

    /** The platform API version (semver, e.g. {@code 0.1.0}) that plugins' {@code Plugin-Requires} is checked against. */
    public static String apiVersion() {
        return required("api.version");
    }

    /** The platform build version (the Maven project version, e.g. {@code 0.1.0-SNAPSHOT}). */
    public static String buildVersion() {
        return required("version");
    }

    private static String required(String key) {
        String value = PROPERTIES.getProperty(key);
        // An unfiltered "${...}" means the resource was copied without Maven filtering: a build error, not a version.
        if (value == null || value.isBlank() || value.contains("${")) {
            throw new IllegalStateException("Classpath resource " + RESOURCE + " has no usable '" + key
                    + "' (found " + (value == null ? "nothing" : "'" + value + "'")
                    + "); it must be filtered by Maven (src/main/resources-filtered)");
        }
        return value.trim();
    }

    private static Properties load() {
        Properties p = new Properties();
        try (InputStream in = PlatformVersion.class.getClassLoader().getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("Classpath resource " + RESOURCE + " is missing");
            }
            p.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read classpath resource " + RESOURCE, e);
        }
        return p;
    }
}
