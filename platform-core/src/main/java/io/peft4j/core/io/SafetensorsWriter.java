package io.peft4j.core.io;

import ai.djl.ndarray.NDArray;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes a {@code .safetensors} file compatible with the Python {@code safetensors} library: header with
 * {@code __metadata__} (default {@code {"format":"pt"}}), tensor keys sorted by name and laid out in that order,
 * header padded with spaces so the data section starts at a multiple of 8, little-endian row-major data.
 * The file is written atomically (temporary file in the same directory, fsync, atomic rename).
 *
 * <pre>{@code new SafetensorsWriter().add("w", array).metadata("step", "10").write(path);}</pre>
 */
public final class SafetensorsWriter {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Rows of a tensor converted to bytes at a time while writing (bounds the transient copy). */
    private static final long CHUNK_BYTES = 16L << 20;

    /** A tensor to write: an array, raw bytes, or an array made on demand and closed once written. */
    private record Pending(SafetensorsDType dtype, long[] shape, NDArray array, byte[] raw,
                           java.util.function.Supplier<NDArray> lazy) {
        long byteLength() {
            long n = dtype.bytes();
            for (long d : shape) {
                n = Math.multiplyExact(n, d);
            }
            return n;
        }
    }

    private final Map<String, String> metadata = new LinkedHashMap<>();
    private final Map<String, Pending> tensors = new TreeMap<>();

    public SafetensorsWriter() {
        metadata.put("format", "pt");
    }

    /** Adds or replaces a {@code __metadata__} entry. */
    public SafetensorsWriter metadata(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    /** Adds a tensor; its data is read when {@link #write} runs. bf16 arrays cannot exist in DJL, so none is written. */
    public SafetensorsWriter add(String name, NDArray array) {
        checkName(name);
        tensors.put(name, new Pending(SafetensorsDType.forDataType(array.getDataType()), array.getShape().getShape(),
                array, null, null));
        return this;
    }

    /**
     * Adds a tensor whose array is made only when its bytes are written and closed right after (e.g. a quantized
     * weight's dequantization), so a whole-model export holds one such array at a time. {@code supplier} must give
     * an array of {@code dtype} and {@code shape}.
     */
    public SafetensorsWriter addLazy(String name, SafetensorsDType dtype, long[] shape,
                                     java.util.function.Supplier<NDArray> supplier) {
        checkName(name);
        tensors.put(name, new Pending(dtype, shape.clone(), null, null, supplier));
        return this;
    }

    /** Adds a tensor from raw little-endian bytes (e.g. BF16 data produced in Java). */
    public SafetensorsWriter addRaw(String name, SafetensorsDType dtype, long[] shape, byte[] littleEndianData) {
        checkName(name);
        long n = dtype.bytes();
        for (long d : shape) {
            n *= d;
        }
        if (n != littleEndianData.length) {
            throw new IllegalArgumentException("tensor '" + name + "': shape " + java.util.Arrays.toString(shape)
                    + " x " + dtype + " needs " + n + " bytes, got " + littleEndianData.length);
        }
        tensors.put(name, new Pending(dtype, shape.clone(), null, littleEndianData.clone(), null));
        return this;
    }

    /**
     * Writes all tensors added so far to {@code file} atomically. The header is computed from shapes and dtypes;
     * tensor data is then converted and written one tensor (and at most {@value #CHUNK_BYTES} bytes of it) at a
     * time, so writing never holds a second copy of the whole set.
     */
    public void write(Path file) throws IOException {
        List<String> names = new ArrayList<>(tensors.keySet());
        Map<String, Object> header = new LinkedHashMap<>();
        header.put("__metadata__", metadata);
        long offset = 0;
        for (String name : names) {
            Pending p = tensors.get(name);
            long n = p.byteLength();
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("dtype", p.dtype().name());
            e.put("shape", p.shape());
            e.put("data_offsets", new long[] {offset, offset + n});
            header.put(name, e);
            offset += n;
        }
        byte[] json = JSON.writeValueAsBytes(header);
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded);
        head.put(json);
        while (head.hasRemaining()) {
            head.put((byte) ' ');
        }
        head.flip();
        AtomicFiles.write(file, ch -> {
            writeAll(ch, head);
            for (String name : names) {
                writeData(ch, name, tensors.get(name));
            }
        });
    }

    private static void writeData(FileChannel ch, String name, Pending p) throws IOException {
        if (p.raw() != null) {
            writeAll(ch, ByteBuffer.wrap(p.raw()));
            return;
        }
        NDArray a = p.array() != null ? p.array() : p.lazy().get();
        try {
            if (!java.util.Arrays.equals(a.getShape().getShape(), p.shape())
                    || SafetensorsDType.forDataType(a.getDataType()) != p.dtype()) {
                throw new IllegalArgumentException("tensor '" + name + "': expected " + p.dtype() + " "
                        + java.util.Arrays.toString(p.shape()) + ", got " + a.getDataType() + " " + a.getShape());
            }
            long n = p.byteLength();
            if (n == 0) {
                return;
            }
            if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN && p.dtype().bytes() > 1) {
                throw new UncheckedIOException(new IOException("tensor '" + name
                        + "': writing safetensors on a big-endian platform is not supported"));
            }
            if (n <= CHUNK_BYTES) {
                writeAll(ch, a.toByteBuffer().duplicate());
                return;
            }
            // Flat element ranges: toByteBuffer copies, so a large tensor is copied a chunk at a time.
            long elems = n / p.dtype().bytes();
            long per = CHUNK_BYTES / p.dtype().bytes();
            try (NDArray flat = a.reshape(-1)) {
                for (long start = 0; start < elems; start += per) {
                    try (NDArray part = flat.get(new ai.djl.ndarray.index.NDIndex("{}:{}", start,
                            Math.min(elems, start + per)))) {
                        writeAll(ch, part.toByteBuffer().duplicate());
                    }
                }
            }
        } finally {
            if (p.array() == null) {
                a.close();
            }
        }
    }

    /** Convenience: writes {@code tensors} with the default metadata. */
    public static void write(Path file, Map<String, NDArray> tensors) throws IOException {
        write(file, tensors, Map.of());
    }

    /** Convenience: writes {@code tensors} with extra metadata entries. */
    public static void write(Path file, Map<String, NDArray> tensors, Map<String, String> metadata)
            throws IOException {
        SafetensorsWriter w = new SafetensorsWriter();
        metadata.forEach(w::metadata);
        tensors.forEach(w::add);
        w.write(file);
    }

    private static void writeAll(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    private static void checkName(String name) {
        if (name == null || name.isEmpty() || name.equals("__metadata__")) {
            throw new IllegalArgumentException("invalid tensor name '" + name + "'");
        }
    }
}
