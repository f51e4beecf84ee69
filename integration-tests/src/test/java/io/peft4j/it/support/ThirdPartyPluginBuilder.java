package io.peft4j.it.support;

import java.io.IOException;
import java.io.OutputStream;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Stream;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

/**
 * Builds a plugin jar the way a third party would: compiles sources against platform-api (plus the libraries the
 * platform provides: DJL's api, PF4J, Jackson annotations) - nothing of platform-core - lets PF4J's annotation
 * processor write the extension index, and packs the jar with a PF4J MANIFEST descriptor.
 */
public final class ThirdPartyPluginBuilder {
    private ThirdPartyPluginBuilder() {
    }

    /** The compile classpath a plugin author has: the jars (or class dirs) holding these API classes. */
    static List<Path> apiClasspath() {
        List<Path> cp = new ArrayList<>();
        for (Class<?> c : List.of(io.peft4j.api.Adapter.class, org.pf4j.Extension.class, ai.djl.ndarray.NDArray.class,
                com.fasterxml.jackson.annotation.JsonProperty.class)) {
            try {
                cp.add(Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()));
            } catch (URISyntaxException e) {
                throw new IllegalStateException(e);
            }
        }
        return cp;
    }

    /**
     * @param sourceDir  root of the plugin's Java sources
     * @param manifest   Plugin-Id, Plugin-Version, Plugin-Requires ...
     * @param jar        the jar to write
     */
    public static Path build(Path sourceDir, Map<String, String> manifest, Path jar) throws IOException {
        Path classes = Files.createTempDirectory("plugin-classes");
        List<String> sources;
        try (Stream<Path> s = Files.walk(sourceDir)) {
            sources = s.filter(p -> p.toString().endsWith(".java")).map(Path::toString).toList();
        }
        String cp = String.join(java.io.File.pathSeparator, apiClasspath().stream().map(Path::toString).toList());
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        List<String> args = new ArrayList<>(List.of("--release", "17", "-classpath", cp, "-processorpath", cp,
                "-d", classes.toString()));
        args.addAll(sources);
        int rc = javac.run(null, null, null, args.toArray(String[]::new));
        if (rc != 0) {
            throw new IllegalStateException("javac failed for the plugin sources in " + sourceDir);
        }
        Manifest mf = new Manifest();
        mf.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        manifest.forEach((k, v) -> mf.getMainAttributes().putValue(k, v));
        try (OutputStream os = Files.newOutputStream(jar); JarOutputStream jos = new JarOutputStream(os, mf);
             Stream<Path> files = Files.walk(classes)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                jos.putNextEntry(new JarEntry(classes.relativize(f).toString().replace('\\', '/')));
                jos.write(Files.readAllBytes(f));
                jos.closeEntry();
            }
        }
        return jar;
    }
}
