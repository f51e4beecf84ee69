package io.peft4j.it.interop;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * One interop fixture: a directory under {@code src/test/resources/interop} with a {@code manifest.json} (written by
 * tools/interop/generate_fixtures.py, or for the peft4j-written cases by {@link WritePeft4jFixtures} and completed by
 * the generator), the reference logits and, for adapters, the adapter directory.
 *
 * @param kind      {@code base} (stories260K alone), {@code adapter} (an adapter on stories260K) or {@code merged}
 *                  (a merged checkpoint)
 * @param modelDir  the adapter directory (kind adapter) or the merged checkpoint (kind merged), null for base
 * @param expected  the reference logits, one float32 tensor {@code [batch, seq, vocab]} per input name
 * @param active    the adapters to activate (manifest {@code active}), or null for every adapter in the directory
 */
record InteropCase(String name, String direction, String kind, Path dir, Path modelDir, Path expected, double atol,
                   List<Input> inputs, List<String> active) {

    /** Fixed token ids and an optional 0/1 attention mask, both {@code [batch][seq]}. */
    record Input(String name, long[][] ids, long[][] mask) {
    }

    static final ObjectMapper JSON = new ObjectMapper();

    /** The fixtures root: the test resources' {@code interop} directory. */
    static Path root() {
        String repo = System.getProperty("peft4j.repo.root");
        if (repo == null) {
            throw new IllegalStateException("system property peft4j.repo.root is not set (run the tests with Maven)");
        }
        return Path.of(repo, "integration-tests", "src", "test", "resources", "interop");
    }

    /** Every case with a manifest below the root, sorted by directory. */
    static List<InteropCase> discover() {
        try (Stream<Path> s = Files.walk(root())) {
            List<InteropCase> out = new ArrayList<>();
            for (Path mf : s.filter(p -> p.getFileName().toString().equals("manifest.json")).sorted().toList()) {
                out.add(parse(mf));
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static InteropCase parse(Path manifest) throws IOException {
        JsonNode m = JSON.readTree(manifest.toFile());
        Path dir = manifest.getParent();
        String kind = m.path("kind").asText();
        Path model = switch (kind) {
            case "adapter" -> dir.resolve(m.path("adapter_dir").asText("adapter"));
            case "merged" -> dir.resolve(m.path("model_dir").asText("model"));
            case "base" -> null;
            default -> throw new IllegalArgumentException(manifest + ": kind: expected base, adapter or merged, got '"
                    + kind + "'");
        };
        List<Input> inputs = new ArrayList<>();
        for (JsonNode in : m.path("inputs")) {
            inputs.add(new Input(in.path("name").asText(), matrix(in.path("input_ids")),
                    in.has("attention_mask") ? matrix(in.path("attention_mask")) : null));
        }
        List<String> active = null;
        if (m.has("active")) {
            active = new ArrayList<>();
            for (JsonNode a : m.path("active")) {
                active.add(a.asText());
            }
        }
        String rel = root().relativize(dir).toString().replace('\\', '/');
        return new InteropCase(rel, m.path("direction").asText(), kind, dir, model,
                dir.resolve(m.path("expected").asText("expected.safetensors")), m.path("atol").asDouble(1e-4),
                inputs, active);
    }

    private static long[][] matrix(JsonNode rows) {
        long[][] out = new long[rows.size()][];
        for (int i = 0; i < rows.size(); i++) {
            JsonNode r = rows.get(i);
            out[i] = new long[r.size()];
            for (int j = 0; j < r.size(); j++) {
                out[i][j] = r.get(j).asLong();
            }
        }
        return out;
    }

    @Override
    public String toString() {
        return name;
    }
}
