package io.peft4j.core.run;

import io.peft4j.api.ConfigException;
import io.peft4j.core.model.BundledModel;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** Resolves {@code bundled:...} references to the model and demo data embedded in the platform jar. */
public final class Bundled {
    public static final String PREFIX = "bundled:";
    public static final String MODEL = "bundled:stories260K";
    public static final String DEMO_CONFIG = "bundled:demo/demo.yaml";
    private static final String DATA_ROOT = "io/peft4j/bundled/";

    private Bundled() {
    }

    /** A model directory: the bundled stories260K, or the given path (checked to exist). */
    public static Path modelDir(String ref, String field) {
        if (ref.equals(MODEL)) {
            return BundledModel.stories260K();
        }
        if (ref.startsWith(PREFIX)) {
            throw new ConfigException(field, "unknown bundled model \"" + ref + "\"; the only one is " + MODEL);
        }
        Path p = Path.of(ref);
        if (!Files.isDirectory(p)) {
            throw new ConfigException(field, "model directory " + p.toAbsolutePath() + " does not exist (expected a "
                    + "Hugging Face directory with config.json, model.safetensors and tokenizer.json, or " + MODEL + ")");
        }
        return p;
    }

    /** A data or config file: a {@code bundled:demo/...} resource (copied to a temp file) or a path. */
    public static Path file(String ref, String field) {
        if (ref.startsWith(PREFIX)) {
            String res = DATA_ROOT + ref.substring(PREFIX.length());
            try (InputStream in = Bundled.class.getClassLoader().getResourceAsStream(res)) {
                if (in == null) {
                    throw new ConfigException(field, "unknown bundled file \"" + ref + "\"");
                }
                String name = res.substring(res.lastIndexOf('/') + 1);
                Path dir = Files.createTempDirectory("peft4j-bundled");
                dir.toFile().deleteOnExit();
                Path out = dir.resolve(name);
                Files.copy(in, out, StandardCopyOption.REPLACE_EXISTING);
                out.toFile().deleteOnExit();
                return out;
            } catch (IOException e) {
                throw new UncheckedIOException("cannot extract " + res, e);
            }
        }
        Path p = Path.of(ref);
        if (!Files.isRegularFile(p)) {
            throw new ConfigException(field, "file " + p.toAbsolutePath() + " does not exist");
        }
        return p;
    }
}
