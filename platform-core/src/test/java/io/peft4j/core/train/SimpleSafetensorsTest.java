package io.peft4j.core.train;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.peft4j.core.train.checkpoint.SimpleSafetensors;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SimpleSafetensorsTest {
    @TempDir
    Path dir;

    @Test
    void roundTripsAndIsReadableByDjlsOwnSafetensorsDecoder() throws IOException {
        SimpleSafetensors fmt = new SimpleSafetensors();
        Path f = dir.resolve("t.safetensors");
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> in = new LinkedHashMap<>();
            in.put("a.weight", m.create(new float[] {1.5f, -2f, 3.25f, 0f, 7f, -0.5f}, new Shape(2, 3)));
            in.put("steps", m.create(new long[] {3, 9}));
            in.put("half", m.create(new float[] {0.5f, 1f}).toType(DataType.FLOAT16, false));
            fmt.write(f, in, Map.of("format", "pt"));

            Map<String, NDArray> out = fmt.read(f, m);
            assertThat(out.keySet()).containsExactly("a.weight", "steps", "half");
            assertThat(out.get("a.weight").getShape()).isEqualTo(new Shape(2, 3));
            assertThat(out.get("a.weight").toFloatArray()).containsExactly(in.get("a.weight").toFloatArray());
            assertThat(out.get("steps").toLongArray()).containsExactly(3, 9);
            assertThat(out.get("half").getDataType()).isEqualTo(DataType.FLOAT16);
            assertThat(SimpleSafetensors.metadata(f)).containsEntry("format", "pt");

            try (InputStream is = Files.newInputStream(f)) {
                NDList decoded = NDList.decode(m, is);
                NDArray w = decoded.stream().filter(a -> "a.weight".equals(a.getName())).findFirst().orElseThrow();
                assertThat(w.toFloatArray()).containsExactly(in.get("a.weight").toFloatArray());
            }
            assertThat(dir.toFile().list()).containsExactly("t.safetensors"); // no temporary left behind
        }
    }
}
