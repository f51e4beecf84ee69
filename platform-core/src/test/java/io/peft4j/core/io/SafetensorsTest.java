package io.peft4j.core.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {
    static NDManager m;

    @TempDir
    Path tmp;

    @BeforeAll
    static void init() {
        m = NDManager.newBaseManager();
    }

    @AfterAll
    static void done() {
        m.close();
    }

    @Test
    void roundTripAllTypes() throws IOException {
        NDArray f32 = m.create(new float[] {1.5f, -2f, 3.25f, 0f, 7f, -0.125f}, new Shape(2, 3));
        NDArray f16 = f32.toType(DataType.FLOAT16, false);
        NDArray i64 = m.create(new long[] {1L << 40, -5, 7}, new Shape(3));
        NDArray u8 = m.create(ByteBuffer.wrap(new byte[] {0, 1, (byte) 200, (byte) 255}), new Shape(2, 2), DataType.UINT8);
        NDArray i32 = m.create(new int[] {-1, 2}, new Shape(2));
        NDArray f64 = m.create(new double[] {Math.PI}, new Shape(1));
        NDArray transposed = f32.transpose();   // non-contiguous view: written row-major
        // bf16 of 1.5, -2, 0.15625 (upper halves of their float32 bits)
        float[] bfVals = {1.5f, -2f, 0.15625f};
        ByteBuffer bf = ByteBuffer.allocate(6).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : bfVals) {
            bf.putShort((short) (Float.floatToIntBits(v) >>> 16));
        }
        Path file = tmp.resolve("t.safetensors");
        new SafetensorsWriter().add("f32", f32).add("f16", f16).add("i64", i64).add("u8", u8).add("i32", i32)
                .add("f64", f64).add("zt", transposed).addRaw("bf16", SafetensorsDType.BF16, new long[] {3},
                        bf.array()).metadata("step", "3").write(file);

        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            assertThat(r.metadata()).containsEntry("format", "pt").containsEntry("step", "3");
            assertThat(r.names()).containsExactly("bf16", "f16", "f32", "f64", "i32", "i64", "u8", "zt");
            assertThat(r.read("f32", m).toFloatArray()).containsExactly(f32.toFloatArray());
            NDArray h = r.read("f16", m);
            assertThat(h.getDataType()).isEqualTo(DataType.FLOAT16);
            assertThat(h.toType(DataType.FLOAT32, false).toFloatArray()).containsExactly(f32.toFloatArray());
            assertThat(r.read("i64", m).toLongArray()).containsExactly(1L << 40, -5, 7);
            assertThat(r.read("u8", m).toUint8Array()).containsExactly(0, 1, 200, 255);
            assertThat(r.read("i32", m).toIntArray()).containsExactly(-1, 2);
            assertThat(r.read("f64", m).toDoubleArray()).containsExactly(Math.PI);
            NDArray zt = r.read("zt", m);
            assertThat(zt.getShape()).isEqualTo(new Shape(3, 2));
            assertThat(zt.toFloatArray()).containsExactly(1.5f, 0f, -2f, 7f, 3.25f, -0.125f);
            NDArray b = r.read("bf16", m);
            assertThat(b.getDataType()).isEqualTo(DataType.FLOAT32);
            assertThat(b.toFloatArray()).containsExactly(bfVals);
            NDArray copy = r.readCopy("f32", m);
            copy.addi(1f);   // fresh memory may be written
            assertThat(r.read("f32", m).toFloatArray()).containsExactly(f32.toFloatArray());
        }
        // Layout: header length is a multiple of 8 and the header is space padded.
        byte[] raw = Files.readAllBytes(file);
        long n = ByteBuffer.wrap(raw, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertThat(n % 8).isZero();
        String header = new String(raw, 8, (int) n, StandardCharsets.UTF_8);
        assertThat(header).startsWith("{\"__metadata__\":{\"format\":\"pt\"");
        assertThat(header.indexOf("\"bf16\"")).isLessThan(header.indexOf("\"f16\""));
        try (var files = Files.list(tmp)) {
            assertThat(files).containsExactly(file);   // no temporary file left behind
        }
    }

    @Test
    void mapsZeroCopy() throws IOException {
        Path file = tmp.resolve("z.safetensors");
        SafetensorsWriter.write(file, Map.of("w", m.create(new float[] {1f, 2f}, new Shape(2))));
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            NDArray w = r.read("w", m);
            long pos = r.file().toFile().length() - 4;   // last float of the data
            try (var ch = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(0, 9f), pos);
            }
            assertThat(w.toFloatArray()).containsExactly(1f, 9f);
        }
    }

    // ---------------------------------------------------------------- bad files

    private Path file(String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        Path f = tmp.resolve("bad.safetensors");
        Files.write(f, b.array());
        return f;
    }

    private void fails(Path f, String... parts) {
        assertThatThrownBy(() -> SafetensorsReader.open(f).close()).isInstanceOf(SafetensorsException.class)
                .hasMessageContaining(f.toString()).hasMessageContainingAll(parts);
    }

    @Test
    void badHeaders() throws IOException {
        fails(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", 8), "not valid JSON");
        fails(file("{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "'a'", "dtype 'Q4'");
        fails(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8), "'a'", "needs 12 bytes");
        fails(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4), "'a'",
                "outside the data section");
        fails(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12), "'a'", "'b'", "overlap");
        fails(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8), "'a'", "data_offsets");
        fails(file("[1,2]", 0), "JSON object");

        Path f = tmp.resolve("short.safetensors");
        Files.write(f, new byte[] {1, 2, 3});
        fails(f, "truncated");
        ByteBuffer huge = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 40);
        Files.write(f, huge.array());
        fails(f, "absurd header length");
        ByteBuffer longer = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1000);
        Files.write(f, longer.array());
        fails(f, "exceeds the file size");
        assertThatThrownBy(() -> SafetensorsReader.open(tmp.resolve("missing.safetensors")))
                .isInstanceOf(SafetensorsException.class).hasMessageContaining("not found");
    }

    @Test
    void sizesOverflowingALongAreFormatErrors() throws IOException {
        // 2^32 x 2^32 elements: the element count overflows a long.
        fails(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8),
                "'a'", "shape [4294967296,4294967296]", "64-bit count");
        // 2^62 elements fit, x 4 bytes do not.
        fails(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,8]}}", 8),
                "'a'", "F32", "64-bit size");
        // Offsets beyond a long.
        fails(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,99999999999999999999]}}", 8),
                "'a'", "data_offsets");
    }

    @Test
    void readFloat32WidensEveryFloatTypeIntoOwnedMemory() throws IOException {
        Path f = tmp.resolve("types.safetensors");
        float[] values = {1.5f, -2.25f, 0f, 3.0e-3f, 65504f};
        // BF16 bits written by hand: the upper halves of the float32 values (these are exact in bf16 except 3e-3,
        // which is truncated here and compared against its truncation).
        ByteBuffer bf = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            bf.putShort((short) (Float.floatToRawIntBits(v) >>> 16));
        }
        String header = "{\"bf\":{\"dtype\":\"BF16\",\"shape\":[5],\"data_offsets\":[0,10]},"
                + "\"h\":{\"dtype\":\"F16\",\"shape\":[1,5],\"data_offsets\":[10,20]},"
                + "\"f\":{\"dtype\":\"F32\",\"shape\":[5],\"data_offsets\":[20,40]},"
                + "\"i\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[40,48]}}";
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + 48).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(bf.array());
        short[] halves = {0x3E00, (short) 0xC080, 0, 0x1A25, 0x7BFF};   // 1.5, -2.25, 0, ~3e-3, 65504 in IEEE half
        for (short x : halves) {
            b.putShort(x);
        }
        for (float v : values) {
            b.putFloat(v);
        }
        b.putLong(7);
        Files.write(f, b.array());
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            float[] truncated = new float[values.length];
            for (int k = 0; k < values.length; k++) {
                truncated[k] = Float.intBitsToFloat(Float.floatToRawIntBits(values[k]) & 0xFFFF0000);
            }
            try (NDArray a = r.readFloat32("bf", m); NDArray hf = r.readFloat32("h", m);
                 NDArray ff = r.readFloat32("f", m); NDArray mapped = r.read("h", m)) {
                assertThat(a.getDataType()).isEqualTo(DataType.FLOAT32);
                assertThat(a.toFloatArray()).containsExactly(truncated);
                assertThat(hf.getShape()).isEqualTo(new Shape(1, 5));
                // Same values as the engine's own half -> float conversion of the mapped F16 tensor.
                assertThat(hf.toFloatArray()).containsExactly(mapped.toType(DataType.FLOAT32, false).toFloatArray());
                assertThat(ff.toFloatArray()).containsExactly(values);
            }
            assertThatThrownBy(() -> r.readFloat32("i", m)).isInstanceOf(SafetensorsException.class)
                    .hasMessageContainingAll(f.toString(), "'i'", "I64");
        }
    }

    @Test
    void readFloat32CrossesChunkBoundaries() throws IOException {
        int n = SafetensorsReader.CHUNK_ELEMENTS + 3;   // two reads, the second partial
        float[] values = new float[n];
        for (int k = 0; k < n; k++) {
            values[k] = k * 0.5f - 7f;
        }
        Path f = tmp.resolve("big.safetensors");
        SafetensorsWriter.write(f, Map.of("w", m.create(values, new Shape(n))));
        try (SafetensorsReader r = SafetensorsReader.open(f); NDArray a = r.readFloat32("w", m)) {
            // isEqualTo compares arrays with Arrays.equals (containsExactly is quadratic on 4M elements).
            assertThat(a.toFloatArray()).isEqualTo(values);
        }
    }

    @Test
    void missingTensorNamesSomePresent() throws IOException {
        Path file = tmp.resolve("x.safetensors");
        SafetensorsWriter.write(file, Map.of("alpha", m.create(new float[] {1f}, new Shape(1))));
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            assertThatThrownBy(() -> r.read("beta", m)).isInstanceOf(SafetensorsException.class)
                    .hasMessageContainingAll(file.toString(), "'beta'", "alpha");
        }
    }

    @Test
    void shardedIndex() throws IOException {
        SafetensorsWriter.write(tmp.resolve("s1.safetensors"), Map.of("a", m.create(new float[] {1f}, new Shape(1))));
        SafetensorsWriter.write(tmp.resolve("s2.safetensors"), Map.of("b", m.create(new long[] {4L}, new Shape(1))));
        Files.writeString(tmp.resolve(SafetensorsCheckpoint.INDEX_FILE),
                "{\"metadata\":{},\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s2.safetensors\"}}");
        try (SafetensorsCheckpoint c = SafetensorsCheckpoint.open(tmp)) {
            assertThat(c.names()).containsExactly("a", "b");
            assertThat(c.read("b", m).toLongArray()).containsExactly(4L);
            assertThat(c.fileOf("a").getFileName().toString()).isEqualTo("s1.safetensors");
        }
        Files.writeString(tmp.resolve(SafetensorsCheckpoint.INDEX_FILE),
                "{\"weight_map\":{\"a\":\"s1.safetensors\",\"c\":\"s2.safetensors\"}}");
        assertThatThrownBy(() -> SafetensorsCheckpoint.open(tmp)).isInstanceOf(SafetensorsException.class)
                .hasMessageContainingAll("'c'", "s2.safetensors");
        Files.writeString(tmp.resolve(SafetensorsCheckpoint.INDEX_FILE),
                "{\"weight_map\":{\"a\":\"s9.safetensors\"}}");
        assertThatThrownBy(() -> SafetensorsCheckpoint.open(tmp)).isInstanceOf(SafetensorsException.class)
                .hasMessageContainingAll("s9.safetensors", "does not exist");
    }
}
