package io.peft4j.core.plugin;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Stream;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

/**
 * Builds real PF4J plugin jars at test time: compiles Java sources with {@code javax.tools} against the platform
 * classes the test JVM already has (platform-api, PF4J, DJL api, Guice, jakarta.inject), with PF4J's annotation
 * processor writing {@code META-INF/extensions.idx}, and packages classes, resources and a MANIFEST with the PF4J
 * descriptor attributes.
 *
 * <pre>{@code
 * Path jar = PluginJarBuilder.plugin("demo", "1.0.0")
 *         .requires(">=0.1.0")
 *         .source("demo.DemoAdapter", "package demo; ... @Extension public class DemoAdapter implements Adapter {...}")
 *         .build(pluginsDir);
 * }</pre>
 *
 * Compilation classpath: the jars/directories holding the platform's shared classes (found from the classes
 * themselves, so it works under Surefire's manifest-only classpath jar), plus {@link #classpath(Path...)} extras.
 */
public final class PluginJarBuilder {

    /** Classes whose code sources form the default compile classpath (platform-api, pf4j, djl api, guice, inject, slf4j). */
    private static final List<String> CLASSPATH_ANCHORS = List.of(
            "io.peft4j.api.Adapter",
            "org.pf4j.ExtensionPoint",
            "ai.djl.ndarray.NDArray",
            "com.google.inject.Module",
            "jakarta.inject.Inject",
            "org.slf4j.Logger",
            "com.fasterxml.jackson.annotation.JsonProperty");

    private final String pluginId;
    private final Map<String, String> manifest = new LinkedHashMap<>();
    private final Map<String, String> sources = new LinkedHashMap<>();
    private final Map<String, byte[]> resources = new LinkedHashMap<>();
    private final List<Path> extraClasspath = new ArrayList<>();
    private String fileName;
    private boolean writeDescriptor = true;

    private PluginJarBuilder(String pluginId) {
        this.pluginId = pluginId;
        this.fileName = pluginId + ".jar";
    }

    /** A plugin with MANIFEST {@code Plugin-Id} and {@code Plugin-Version}. */
    public static PluginJarBuilder plugin(String pluginId, String version) {
        PluginJarBuilder b = new PluginJarBuilder(pluginId);
        b.manifest.put("Plugin-Id", pluginId);
        b.manifest.put("Plugin-Version", version);
        return b;
    }

    /** A jar with arbitrary MANIFEST attributes only (no PF4J descriptor added), e.g. to test a bad descriptor. */
    public static PluginJarBuilder jarWithManifest(String fileName, Map<String, String> attributes) {
        PluginJarBuilder b = new PluginJarBuilder(null);
        b.fileName = fileName;
        b.writeDescriptor = false;
        b.manifest.putAll(attributes);
        return b;
    }

    /** {@code Plugin-Requires}: the platform API version range, e.g. {@code >=0.1.0}. */
    public PluginJarBuilder requires(String range) {
        manifest.put("Plugin-Requires", range);
        return this;
    }

    /** {@code Plugin-Dependencies}, e.g. {@code base@>=1.0.0, other?}. */
    public PluginJarBuilder dependencies(String dependencies) {
        manifest.put("Plugin-Dependencies", dependencies);
        return this;
    }

    /** {@code Plugin-Class} (optional for PF4J). */
    public PluginJarBuilder pluginClass(String className) {
        manifest.put("Plugin-Class", className);
        return this;
    }

    /** {@code Plugin-Provider}. */
    public PluginJarBuilder provider(String provider) {
        manifest.put("Plugin-Provider", provider);
        return this;
    }

    /** Any other MANIFEST attribute. */
    public PluginJarBuilder manifestAttribute(String name, String value) {
        manifest.put(name, value);
        return this;
    }

    /** The jar's file name (default {@code <pluginId>.jar}). */
    public PluginJarBuilder fileName(String name) {
        this.fileName = name;
        return this;
    }

    /** A Java source file, by fully qualified class name. */
    public PluginJarBuilder source(String className, String code) {
        sources.put(className, code);
        return this;
    }

    /** A resource entry (path inside the jar, {@code /}-separated). */
    public PluginJarBuilder resource(String entryName, byte[] content) {
        resources.put(entryName, content.clone());
        return this;
    }

    /**
     * Copies the {@code .class} file of a class visible to the test JVM into the jar, as a "fat" plugin would that
     * bundles its own copy of, e.g., an {@code io.peft4j.api} type.
     */
    public PluginJarBuilder bundleClassCopy(Class<?> type) {
        String entry = type.getName().replace('.', '/') + ".class";
        try (InputStream in = type.getClassLoader().getResourceAsStream(entry)) {
            if (in == null) {
                throw new IllegalArgumentException("Class file " + entry + " not found on the test classpath");
            }
            resources.put(entry, in.readAllBytes());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return this;
    }

    /** Extra compile classpath entries (e.g. another plugin's jar this one depends on). */
    public PluginJarBuilder classpath(Path... entries) {
        extraClasspath.addAll(List.of(entries));
        return this;
    }

    /**
     * Compiles, packages and writes the jar into {@code dir} (created if needed), atomically.
     *
     * @return the jar's path
     * @throws IllegalStateException with the compiler's diagnostics if compilation fails
     */
    public Path build(Path dir) {
        try {
            Files.createDirectories(dir);
            Path work = Files.createTempDirectory("plugin-build-");
            try {
                Path classes = work.resolve("classes");
                Files.createDirectories(classes);
                if (!sources.isEmpty()) {
                    compile(work.resolve("src"), classes);
                }
                if (writeDescriptor && sourcesDeclareExtensions() && !hasExtensionsIndex(classes)) {
                    throw new IllegalStateException("Plugin '" + pluginId + "' declares @Extension classes but "
                            + "PF4J's annotation processor wrote no META-INF/extensions.idx");
                }
                Path tmp = Files.createTempFile(dir, "." + fileName, ".tmp");
                writeJar(classes, tmp);
                Path jar = dir.resolve(fileName);
                Files.move(tmp, jar, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                return jar;
            } finally {
                deleteRecursively(work);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot build plugin jar " + fileName, e);
        }
    }

    private void compile(Path srcDir, Path classes) throws IOException {
        List<String> files = new ArrayList<>();
        for (Map.Entry<String, String> s : sources.entrySet()) {
            Path f = srcDir.resolve(s.getKey().replace('.', '/') + ".java");
            Files.createDirectories(f.getParent());
            Files.writeString(f, s.getValue(), StandardCharsets.UTF_8);
            files.add(f.toString());
        }
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        if (javac == null) {
            throw new IllegalStateException("No system Java compiler: tests must run on a JDK, not a JRE");
        }
        List<String> args = new ArrayList<>(List.of(
                "-d", classes.toString(),
                "-classpath", compileClasspath(),
                "--release", "17",
                "-encoding", "UTF-8",
                "-Xlint:-options"));
        // PF4J's ExtensionAnnotationProcessor (found in the pf4j jar) writes META-INF/extensions.idx. Newer JDKs
        // no longer run classpath processors by default, so ask for it explicitly there.
        if (Runtime.version().feature() >= 21) {
            args.add("-proc:full");
        }
        args.addAll(files);
        StringWriter diagnostics = new StringWriter();
        int rc = javac.run(null, new WriterOutputStream(diagnostics), new WriterOutputStream(diagnostics),
                args.toArray(String[]::new));
        if (rc != 0) {
            throw new IllegalStateException("Compiling plugin '" + pluginId + "' failed (javac exit " + rc + "):\n"
                    + diagnostics);
        }
    }

    private String compileClasspath() {
        Set<String> entries = new LinkedHashSet<>();
        for (String anchor : CLASSPATH_ANCHORS) {
            entries.add(codeSourceOf(anchor).toString());
        }
        extraClasspath.forEach(p -> entries.add(p.toString()));
        return String.join(java.io.File.pathSeparator, entries);
    }

    private static Path codeSourceOf(String className) {
        try {
            Class<?> c = Class.forName(className, false, PluginJarBuilder.class.getClassLoader());
            return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (ClassNotFoundException | URISyntaxException e) {
            throw new IllegalStateException("Cannot locate " + className + " on the test classpath", e);
        }
    }

    private void writeJar(Path classes, Path jar) throws IOException {
        Manifest mf = new Manifest();
        Attributes main = mf.getMainAttributes();
        main.put(Attributes.Name.MANIFEST_VERSION, "1.0");
        manifest.forEach((k, v) -> main.put(new Attributes.Name(k), v));
        try (OutputStream os = Files.newOutputStream(jar); JarOutputStream out = new JarOutputStream(os, mf)) {
            Set<String> written = new LinkedHashSet<>();
            try (Stream<Path> files = Files.walk(classes)) {
                for (Path f : files.filter(Files::isRegularFile).sorted().toList()) {
                    String name = classes.relativize(f).toString().replace('\\', '/');
                    putEntry(out, name, Files.readAllBytes(f), written);
                }
            }
            for (Map.Entry<String, byte[]> r : resources.entrySet()) {
                putEntry(out, r.getKey(), r.getValue(), written);
            }
        }
    }

    private boolean sourcesDeclareExtensions() {
        return sources.values().stream().anyMatch(s -> s.contains("@Extension"));
    }

    private static boolean hasExtensionsIndex(Path classes) {
        return Files.isRegularFile(classes.resolve("META-INF/extensions.idx"));
    }

    private static void putEntry(JarOutputStream out, String name, byte[] content, Set<String> written)
            throws IOException {
        // Parent directory entries, as real jar tools write them (PF4J doesn't need them, class scanners might).
        int slash = name.indexOf('/');
        while (slash > 0) {
            String dirEntry = name.substring(0, slash + 1);
            if (written.add(dirEntry)) {
                out.putNextEntry(new JarEntry(dirEntry));
                out.closeEntry();
            }
            slash = name.indexOf('/', slash + 1);
        }
        if (!written.add(name)) {
            throw new IllegalStateException("Duplicate jar entry " + name);
        }
        out.putNextEntry(new JarEntry(name));
        out.write(content);
        out.closeEntry();
    }

    private static void deleteRecursively(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted((a, b) -> b.getNameCount() - a.getNameCount()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** Adapts the compiler's OutputStream diagnostics to a Writer (platform charset, as javac writes it). */
    private static final class WriterOutputStream extends OutputStream {
        private final StringWriter target;

        WriterOutputStream(StringWriter target) {
            this.target = target;
        }

        @Override
        public void write(int b) {
            target.write(b);
        }

        @Override
        public void write(byte[] b, int off, int len) {
            target.write(new String(b, off, len, java.nio.charset.Charset.defaultCharset()));
        }
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "PluginJarBuilder[%s -> %s]", pluginId, fileName);
    }
}
