package io.peft4j.plugins.nf4;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reads a golden vector file of /work/shared/golden (schema in its README). */
final class Golden {
    private static final ObjectMapper JSON = new ObjectMapper();
    final JsonNode root;

    private Golden(JsonNode root) {
        this.root = root;
    }

    static Path dir() {
        String d = System.getProperty("peft4j.golden.dir");
        if (d == null || d.isBlank()) {
            d = System.getProperty("peft4j.repo.root", ".") + "/../shared/golden";
        }
        return Path.of(d);
    }

    static Golden read(String name) {
        Path p = dir().resolve(name + ".json");
        if (!Files.isRegularFile(p)) {
            throw new IllegalStateException("golden file not found: " + p.toAbsolutePath()
                    + " (set -Dpeft4j.golden.dir)");
        }
        try {
            return new Golden(JSON.readTree(p.toFile()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    JsonNode config() {
        return root.get("config");
    }

    JsonNode expected() {
        return root.get("expected");
    }

    double atol() {
        return root.path("atol").asDouble();
    }

    double rtol() {
        return root.path("rtol").asDouble();
    }

    float[] inputFloats(String key) {
        return floats(root.get("inputs").get(key));
    }

    long[] inputShape(String key) {
        return shape(root.get("inputs").get(key));
    }

    float[] expectedFloats(String key) {
        return floats(expected().get(key));
    }

    byte[] expectedBytes(String key) {
        JsonNode data = expected().get(key).get("data");
        byte[] b = new byte[data.size()];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) data.get(i).asInt();
        }
        return b;
    }

    long[] expectedShape(String key) {
        return shape(expected().get(key));
    }

    NDArray input(NDManager m, String key) {
        return m.create(inputFloats(key), new Shape(inputShape(key)));
    }

    static float[] floats(JsonNode t) {
        if (!"float32".equals(t.get("dtype").asText())) {
            throw new IllegalArgumentException("expected a float32 tensor, got " + t.get("dtype"));
        }
        JsonNode data = t.get("data");
        float[] f = new float[data.size()];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) data.get(i).asDouble();
        }
        return f;
    }

    static long[] shape(JsonNode t) {
        JsonNode s = t.get("shape");
        long[] out = new long[s.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = s.get(i).asLong();
        }
        return out;
    }

    static NDArray uint8(NDManager m, byte[] b, long... shape) {
        return m.create(ByteBuffer.wrap(b), new Shape(shape), DataType.UINT8);
    }
}
