package io.peft4j.plugins.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

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
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One golden case of {@code shared/golden} (schema in its README): a JSON object with {@code config},
 * {@code inputs}, {@code expected} and the tolerances {@code atol} / {@code rtol} (0 when absent). Tensors are
 * {@code {"shape": [...], "dtype": "float32", "data": [...]}}; byte tensors (packed NF4, quantized absmax) carry
 * their bytes as integers in {@code data}.
 *
 * <p>The directory is {@code -Dpeft4j.golden.dir} (surefire sets it), else
 * {@code ${peft4j.repo.root:-.}/../shared/golden}.
 */
public final class GoldenCase {
    /** System property naming the golden directory. */
    public static final String DIR_PROPERTY = "peft4j.golden.dir";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String name;
    private final JsonNode root;
    private final JsonNode config;
    private final JsonNode inputs;
    private final JsonNode expected;
    private final double atol;
    private final double rtol;

    private GoldenCase(String name, JsonNode root) {
        this.name = name;
        this.root = root;
        config = root.path("config");
        inputs = root.path("inputs");
        expected = root.path("expected");
        atol = root.path("atol").asDouble(0);
        rtol = root.path("rtol").asDouble(0);
    }

    /** The golden directory: {@value #DIR_PROPERTY}, else {@code <peft4j.repo.root>/../shared/golden}. */
    public static Path dir() {
        String d = System.getProperty(DIR_PROPERTY);
        if (d == null || d.isBlank()) {
            d = System.getProperty("peft4j.repo.root", ".") + "/../shared/golden";
        }
        return Path.of(d);
    }

    /** Reads {@code <dir>/<caseName>.json}; fails with the resolved path when it is missing or unreadable. */
    public static GoldenCase read(String caseName) {
        Path p = dir().resolve(caseName + ".json");
        if (!Files.isRegularFile(p)) {
            throw new IllegalStateException("golden case " + caseName + " not found: " + p.toAbsolutePath()
                    + " (set -D" + DIR_PROPERTY + ")");
        }
        return read(p);
    }

    /**
     * Reads one case file of any vector set; its name is the file's {@code case} field, else the file name
     * without {@code .json}.
     */
    public static GoldenCase read(Path file) {
        try {
            JsonNode root = JSON.readTree(file.toFile());
            String fallback = file.getFileName().toString().replaceFirst("\\.json$", "");
            return new GoldenCase(root.path("case").asText(fallback), root);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read golden case " + file.toAbsolutePath(), e);
        }
    }

    public String name() {
        return name;
    }

    /** The {@code method} field (lora, dora, nf4, add_weighted_adapter, format, ...). */
    public String method() {
        return root.path("method").asText();
    }

    /** The config as a plain map (for lenient parsing into a method's config record). */
    @SuppressWarnings("unchecked")
    public Map<String, Object> configMap() {
        return config.isObject() ? JSON.convertValue(config, LinkedHashMap.class) : new LinkedHashMap<>();
    }

    public boolean hasInput(String key) {
        return inputs.has(key);
    }

    /** The whole JSON document. */
    public JsonNode root() {
        return root;
    }

    /** The {@code config} object (a missing node when absent, so {@code path(..)} look-ups stay safe). */
    public JsonNode config() {
        return config;
    }

    public JsonNode inputs() {
        return inputs;
    }

    public JsonNode expected() {
        return expected;
    }

    public double atol() {
        return atol;
    }

    public double rtol() {
        return rtol;
    }

    /** {@code inputs[key]} as a tensor of its dtype. */
    public NDArray input(NDManager m, String key) {
        return tensor(m, member("inputs", inputs, key));
    }

    /** {@code expected[key]} as a tensor of its dtype. */
    public NDArray expected(NDManager m, String key) {
        return tensor(m, member("expected", expected, key));
    }

    public float[] inputFloats(String key) {
        return floats(member("inputs", inputs, key));
    }

    public long[] inputShape(String key) {
        return shape(member("inputs", inputs, key));
    }

    public float[] expectedFloats(String key) {
        return floats(member("expected", expected, key));
    }

    public long[] expectedShape(String key) {
        return shape(member("expected", expected, key));
    }

    /** {@code expected[key].data} as bytes (each integer narrowed to a byte, so 0..255 and -128..127 both work). */
    public byte[] expectedBytes(String key) {
        JsonNode data = member("expected", expected, key).get("data");
        byte[] b = new byte[data.size()];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) data.get(i).asInt();
        }
        return b;
    }

    /**
     * A tensor {@code {"shape", "dtype", "data"}} of dtype float32 (decimals parsed as double, cast to float),
     * int64, uint8 or bool; any other dtype is an error naming it.
     */
    public static NDArray tensor(NDManager m, JsonNode t) {
        Shape sh = new Shape(shape(t));
        JsonNode data = t.get("data");
        int n = data.size();
        String dtype = t.path("dtype").asText();
        switch (dtype) {
            case "float32":
                return m.create(floats(t), sh);
            case "int64": {
                long[] l = new long[n];
                for (int i = 0; i < n; i++) {
                    l[i] = data.get(i).asLong();
                }
                return m.create(l, sh);
            }
            case "uint8": {
                byte[] b = new byte[n];
                for (int i = 0; i < n; i++) {
                    b[i] = (byte) data.get(i).asInt();
                }
                return m.create(ByteBuffer.wrap(b), sh, DataType.UINT8);
            }
            case "bool": {
                boolean[] b = new boolean[n];
                for (int i = 0; i < n; i++) {
                    b[i] = data.get(i).asBoolean();
                }
                return m.create(b, sh);
            }
            default:
                throw new IllegalArgumentException("unknown golden tensor dtype '" + dtype
                        + "' (expected float32, int64, uint8 or bool)");
        }
    }

    /** Keys of an object node, in file order. */
    public static List<String> keys(JsonNode n) {
        List<String> out = new ArrayList<>();
        n.fieldNames().forEachRemaining(out::add);
        return out;
    }

    /** The data of a float32 tensor node; any other dtype is an error naming it. */
    public static float[] floats(JsonNode t) {
        if (!"float32".equals(t.path("dtype").asText())) {
            throw new IllegalArgumentException("expected a float32 golden tensor, got dtype " + t.get("dtype"));
        }
        JsonNode data = t.get("data");
        float[] f = new float[data.size()];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) data.get(i).asDouble();
        }
        return f;
    }

    /** The {@code shape} array of a tensor node. */
    public static long[] shape(JsonNode t) {
        JsonNode s = t.get("shape");
        long[] out = new long[s.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = s.get(i).asLong();
        }
        return out;
    }

    /**
     * Asserts equal shapes and, element-wise, {@code |a - e| <= atol + rtol·|e|} with this case's tolerances;
     * a failure reports the worst element (NaN counts as a violation).
     */
    public void assertClose(String what, NDArray actual, NDArray exp) {
        assertThat(actual.getShape()).as(name + ": shape of " + what).isEqualTo(exp.getShape());
        float[] a = actual.toType(DataType.FLOAT32, false).toFloatArray();
        float[] e = exp.toType(DataType.FLOAT32, false).toFloatArray();
        int worstAt = -1;
        double worst = 0;
        for (int i = 0; i < a.length; i++) {
            double excess = Math.abs((double) a[i] - e[i]) - (atol + rtol * Math.abs(e[i]));
            if (!(excess <= 0) && (worstAt < 0 || excess > worst)) {
                worst = excess;
                worstAt = i;
            }
        }
        if (worstAt >= 0) {
            fail(name + ": " + what + " differs at flat index " + worstAt + ": got " + a[worstAt] + ", expected "
                    + e[worstAt] + " (atol " + atol + ", rtol " + rtol + ")");
        }
    }

    /** {@code |actual - expected| <= atol + rtol·|expected|} for one scalar, with this case's tolerances. */
    public void assertClose(String what, double actual, double expectedValue) {
        double tol = atol + rtol * Math.abs(expectedValue);
        assertThat(Math.abs(actual - expectedValue)).as(name + ": " + what + " = " + actual + ", expected "
                + expectedValue).isLessThanOrEqualTo(tol);
    }

    private JsonNode member(String section, JsonNode parent, String key) {
        JsonNode n = parent.get(key);
        if (n == null) {
            throw new IllegalArgumentException("golden case " + name + " has no " + section + "." + key);
        }
        return n;
    }
}
