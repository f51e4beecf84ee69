package io.peft4j.plugins.adalora;

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
import java.nio.file.Path;

/** One golden case from {@code shared/golden} (schema in its README), read from {@code -Dpeft4j.golden.dir}. */
final class Golden {
    final String name;
    final JsonNode config;
    final JsonNode inputs;
    final JsonNode expected;
    final double atol;
    final double rtol;

    private Golden(String name, JsonNode root) {
        this.name = name;
        config = root.path("config");
        inputs = root.path("inputs");
        expected = root.path("expected");
        atol = root.path("atol").asDouble(0);
        rtol = root.path("rtol").asDouble(0);
    }

    static Golden read(String caseName) {
        String dir = System.getProperty("peft4j.golden.dir");
        if (dir == null) {
            throw new IllegalStateException("system property peft4j.golden.dir is not set (surefire sets it)");
        }
        try {
            return new Golden(caseName, new ObjectMapper().readTree(Path.of(dir, caseName + ".json").toFile()));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read golden case " + caseName + " from " + dir, e);
        }
    }

    NDArray input(NDManager m, String key) {
        return tensor(m, inputs.get(key));
    }

    NDArray expected(NDManager m, String key) {
        return tensor(m, expected.get(key));
    }

    /** A float32 tensor {@code {"shape", "dtype", "data"}}; decimal values are parsed as double, cast to float. */
    static NDArray tensor(NDManager m, JsonNode t) {
        long[] shape = new long[t.get("shape").size()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = t.get("shape").get(i).asLong();
        }
        if (!"float32".equals(t.get("dtype").asText())) {
            throw new IllegalArgumentException("only float32 golden tensors are used here, got " + t.get("dtype"));
        }
        JsonNode data = t.get("data");
        float[] f = new float[data.size()];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) data.get(i).asDouble();
        }
        return m.create(f, new Shape(shape));
    }

    /** Element-wise {@code |a - e| <= atol + rtol·|e|}, reporting the worst element. */
    void assertClose(String what, NDArray actual, NDArray exp) {
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
}
