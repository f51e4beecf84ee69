package io.peft4j.core.plugin;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Enumeration;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * Finds copies of platform classes ({@link PlatformFirstClassLoader#PLATFORM_PACKAGES}) inside a plugin: in a
 * jar, or in an unpacked plugin directory ({@code classes/} and {@code lib/*.jar}).
 *
 * <p>Policy: such a plugin is <b>accepted with a warning</b>. Its copies are never loaded - the platform-first
 * class loader takes those packages from the platform - so the plugin works with the platform's classes (one
 * DJL, one API). The warning tells the author to declare those dependencies {@code provided}; the copies only
 * waste space and would break the plugin under a plugin-first loader.
 */
final class BundledPlatformClasses {

    private BundledPlatformClasses() {
    }

    /**
     * The platform package prefixes (as paths, e.g. {@code ai/djl/}) of which {@code pluginPath} bundles at least
     * one {@code .class} entry; empty if none or if the path cannot be read.
     */
    static Set<String> find(Path pluginPath) {
        Set<String> found = new TreeSet<>();
        try {
            if (Files.isRegularFile(pluginPath) && isArchive(pluginPath)) {
                scanArchive(pluginPath, found);
            } else if (Files.isDirectory(pluginPath)) {
                Path classes = pluginPath.resolve("classes");
                if (Files.isDirectory(classes)) {
                    try (Stream<Path> s = Files.walk(classes)) {
                        s.filter(p -> p.toString().endsWith(".class"))
                                .forEach(p -> match(classes.relativize(p).toString().replace('\\', '/'), found));
                    }
                }
                Path lib = pluginPath.resolve("lib");
                if (Files.isDirectory(lib)) {
                    try (Stream<Path> s = Files.list(lib)) {
                        for (Path jar : s.filter(BundledPlatformClasses::isArchive).toList()) {
                            scanArchive(jar, found);
                        }
                    }
                }
            }
        } catch (IOException e) {
            // Unreadable files are PF4J's to report when it loads them; this check is advisory only.
        }
        return found;
    }

    private static boolean isArchive(Path p) {
        String n = p.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
        return n.endsWith(".jar") || n.endsWith(".zip");
    }

    private static void scanArchive(Path archive, Set<String> found) throws IOException {
        try (ZipFile zip = new ZipFile(archive.toFile())) {
            Enumeration<? extends ZipEntry> entries = zip.entries();
            while (entries.hasMoreElements()) {
                ZipEntry e = entries.nextElement();
                if (e.getName().endsWith(".class")) {
                    match(e.getName(), found);
                }
            }
        }
    }

    private static void match(String entryName, Set<String> found) {
        String className = entryName.replace('/', '.');
        for (String prefix : PlatformFirstClassLoader.PLATFORM_PACKAGES) {
            if (className.startsWith(prefix)) {
                found.add(prefix.replace('.', '/'));
                return;
            }
        }
    }
}
