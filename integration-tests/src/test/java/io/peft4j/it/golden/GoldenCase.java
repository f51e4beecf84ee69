package io.peft4j.it.golden;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * One golden vector file (schema: shared/golden/README.md). Tensors are objects with shape, dtype and flat
 * row-major data; floats parse as double then cast to float32.
 */
public final class GoldenCase {
    private static final ObjectMapper JSON = new ObjectMapper();
    final String name;
    final String method;
    final JsonNode config;
    final JsonNode inputs;
    final JsonNode expected;
    final double atol;
    final double rtol;

    private GoldenCase(JsonNode root) {
        name = root.path("case").asText();
        method = root.path("method").asText();
        config = root.path("config");
        inputs = root.path("inputs");
        expected = root.path("expected");
        atol = root.path("atol").asDouble(0);
        rtol = root.path("rtol").asDouble(0);
    }

    public static GoldenCase read(Path file) throws IOException {
        return new GoldenCase(JSON.readTree(file.toFile()));
    }

    /** The config as a plain map (for lenient parsing into a method's config record). */
    @SuppressWarnings("unchecked")
    public Map<String, Object> configMap() {
        return JSON.convertValue(config, LinkedHashMap.class);
    }

    public NDArray input(NDManager m, String key) {
        JsonNode n = inputs.get(key);
        if (n == null) {
            throw new IllegalArgumentException(name + ": no input '" + key + "'");
        }
        return tensor(m, n);
    }

    public boolean hasInput(String key) {
        return inputs.has(key);
    }

    public NDArray expectedTensor(NDManager m, String key) {
        return tensor(m, expected.get(key));
    }

    static NDArray tensor(NDManager m, JsonNode t) {
        List<Long> shape = new ArrayList<>();
        t.get("shape").forEach(s -> shape.add(s.asLong()));
        Shape sh = new Shape(shape.stream().mapToLong(Long::longValue).toArray());
        JsonNode data = t.get("data");
        String dtype = t.get("dtype").asText();
        int n = data.size();
        switch (dtype) {
            case "float32" -> {
                float[] f = new float[n];
                for (int i = 0; i < n; i++) {
                    f[i] = (float) data.get(i).asDouble();
                }
                return m.create(f, sh);
            }
            case "int64" -> {
                long[] l = new long[n];
                for (int i = 0; i < n; i++) {
                    l[i] = data.get(i).asLong();
                }
                return m.create(l, sh);
            }
            case "uint8" -> {
                byte[] b = new byte[n];
                for (int i = 0; i < n; i++) {
                    b[i] = (byte) data.get(i).asInt();
                }
                return m.create(java.nio.ByteBuffer.wrap(b), sh, DataType.UINT8);
            }
            case "bool" -> {
                boolean[] b = new boolean[n];
                for (int i = 0; i < n; i++) {
                    b[i] = data.get(i).asBoolean();
                }
                return m.create(b, sh);
            }
            default -> throw new IllegalArgumentException("unknown golden dtype " + dtype);
        }
    }

    /** Element-wise {@code |a - e| <= atol + rtol * |e|}, reporting the worst element. */
    public void assertClose(String what, NDArray actual, NDArray expectedArr) {
        assertThat(actual.getShape()).as(name + ": shape of " + what).isEqualTo(expectedArr.getShape());
        float[] a = actual.toType(DataType.FLOAT32, false).toFloatArray();
        float[] e = expectedArr.toType(DataType.FLOAT32, false).toFloatArray();
        double worst = 0;
        int worstAt = -1;
        for (int i = 0; i < a.length; i++) {
            double diff = Math.abs((double) a[i] - e[i]);
            double tol = atol + rtol * Math.abs(e[i]);
            if (!(diff <= tol) && (diff - tol > worst || worstAt < 0)) {
                worst = diff - tol;
                worstAt = i;
            }
        }
        if (worstAt >= 0) {
            fail(name + ": " + what + " differs at flat index " + worstAt + ": got " + a[worstAt] + ", expected "
                    + e[worstAt] + " (atol " + atol + ", rtol " + rtol + ")");
        }
    }

    public void assertClose(String what, double actual, double expectedValue) {
        double tol = atol + rtol * Math.abs(expectedValue);
        assertThat(Math.abs(actual - expectedValue)).as(name + ": " + what + " = " + actual + ", expected "
                + expectedValue).isLessThanOrEqualTo(tol);
    }

    /** Keys of an object node, in file order. */
    static List<String> keys(JsonNode n) {
        List<String> out = new ArrayList<>();
        for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
            out.add(it.next());
        }
        return out;
    }
}
