package io.peft4j.core.model;

import io.peft4j.core.io.AtomicFiles;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;

/**
 * The real pretrained tiny Llama bundled on the classpath ({@code io/peft4j/bundled/stories260K/}: Karpathy's
 * stories260K, MIT; see its PROVENANCE.md), made available as a directory so it loads like any other model.
 */
public final class BundledModel {
    public static final String RESOURCE_DIR = "io/peft4j/bundled/stories260K/";
    /** The files of the bundled model directory. */
    public static final List<String> FILES = List.of("config.json", "model.safetensors", "tokenizer.json",
            "tokenizer_config.json", "special_tokens_map.json", "generation_config.json", "golden_greedy.json",
            "tokenizer_golden.json", "LICENSE", "PROVENANCE.md");

    private BundledModel() {
    }

    /**
     * The stories260K directory: the resource directory itself when the classes run from a directory (e.g.
     * {@code target/classes}), otherwise a copy extracted under {@code java.io.tmpdir}.
     */
    public static Path stories260K() {
        URL url = resource("config.json");
        if ("file".equals(url.getProtocol())) {
            try {
                return Paths.get(url.toURI()).getParent();
            } catch (URISyntaxException e) {
                throw new IllegalStateException("bad resource URL " + url, e);
            }
        }
        Path dir = Paths.get(System.getProperty("java.io.tmpdir"), "peft4j-" + System.getProperty("user.name"),
                "bundled", "stories260K");
        return extractStories260K(dir);
    }

    /** Copies the bundled files into {@code targetDir} (each written atomically; up-to-date files are kept). */
    public static Path extractStories260K(Path targetDir) {
        try {
            Files.createDirectories(targetDir);
            for (String f : FILES) {
                byte[] content;
                try (InputStream in = resource(f).openStream()) {
                    content = in.readAllBytes();
                }
                Path out = targetDir.resolve(f);
                if (Files.isRegularFile(out) && Files.size(out) == content.length
                        && java.util.Arrays.equals(Files.readAllBytes(out), content)) {
                    continue;
                }
                AtomicFiles.write(out, content);
            }
            return targetDir;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot extract the bundled stories260K model to " + targetDir, e);
        }
    }

    private static URL resource(String name) {
        URL url = BundledModel.class.getClassLoader().getResource(RESOURCE_DIR + name);
        if (url == null) {
            throw new IllegalStateException("bundled model resource " + RESOURCE_DIR + name
                    + " is not on the classpath");
        }
        return url;
    }
}
