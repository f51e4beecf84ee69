package io.peft4j.core.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads a {@code .safetensors} file through memory mapping.
 *
 * <p>Format: 8-byte little-endian header length {@code n}, {@code n} bytes of UTF-8 JSON mapping tensor names to
 * {@code {"dtype", "shape", "data_offsets": [begin, end]}} (offsets relative to the data section at {@code 8 + n}),
 * plus an optional {@code "__metadata__"} string map; then the raw little-endian row-major data.
 *
 * <p>The whole header is validated when the file is opened ({@link SafetensorsHeader}: header length, JSON, dtypes,
 * shape × element size equal to the offset span, offsets inside the data section, no overlapping ranges), so a bad
 * file fails early with a message naming the file and the tensor.
 *
 * <p>{@link #read} maps each tensor {@code READ_ONLY} and hands the direct buffer to the engine, which on CPU wraps it
 * without copying ({@code torch::from_blob}; the array keeps the buffer reachable). Such arrays must never be written
 * in place (the write would fault): treat them as frozen and replace them instead. Use {@link #readCopy} for an array
 * you intend to modify in place. BF16 tensors are always widened to float32 in Java (a copy).
 */
public final class SafetensorsReader implements AutoCloseable {
    /** Larger headers are rejected as corrupt (real ones are a few hundred KB at most). */
    public static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;
    /** Elements per positional read of {@link #readFloat32} (16 MiB of float32). */
    static final int CHUNK_ELEMENTS = 4 << 20;

    private final Path file;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, TensorEntry> entries;   // sorted by name
    private final Map<String, String> metadata;
    private final ByteBuffer[] stagingBuffers = new ByteBuffer[2];   // see staging()

    private SafetensorsReader(Path file, FileChannel channel, long dataStart, Map<String, TensorEntry> entries,
                              Map<String, String> metadata) {
        this.file = file;
        this.channel = channel;
        this.dataStart = dataStart;
        this.entries = entries;
        this.metadata = metadata;
    }

    /** Opens and validates a safetensors file. */
    public static SafetensorsReader open(Path file) {
        FileChannel ch;
        try {
            ch = FileChannel.open(file, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new SafetensorsException(file + ": safetensors file not found");
        } catch (IOException e) {
            throw new SafetensorsException(file + ": cannot open safetensors file: " + e.getMessage(), e);
        }
        try {
            SafetensorsHeader h = SafetensorsHeader.read(file, ch);
            return new SafetensorsReader(file, ch, h.dataStart(), h.entries(), h.metadata());
        } catch (RuntimeException e) {
            closeQuietly(ch);
            throw e;
        }
    }

    public Path file() {
        return file;
    }

    /** The {@code __metadata__} map (empty if the file has none). */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Tensor names, sorted. */
    public java.util.Set<String> names() {
        return entries.keySet();
    }

    public boolean contains(String name) {
        return entries.containsKey(name);
    }

    /** The header entry of a tensor; fails naming the file and a few tensors it does hold. */
    public TensorEntry entry(String name) {
        TensorEntry e = entries.get(name);
        if (e == null) {
            throw new SafetensorsException(file + ": no tensor named '" + name + "' (file holds " + entries.size()
                    + " tensors, e.g. " + sample(entries.keySet(), 5) + ")");
        }
        return e;
    }

    /**
     * The tensor as an array of {@link SafetensorsDType#loadedAs()}, zero-copy where possible (see class doc):
     * do not modify the result in place.
     */
    public NDArray read(String name, NDManager manager) {
        TensorEntry e = entry(name);
        Shape shape = e.djlShape();
        if (e.byteLength() == 0) {
            return manager.zeros(shape, e.dtype().loadedAs());
        }
        ByteBuffer bytes = map(e);
        if (e.dtype() == SafetensorsDType.BF16) {
            return manager.create(widenBf16(bytes, e), shape);
        }
        if ((dataStart + e.begin()) % e.dtype().bytes() != 0) {
            // Unaligned data: give the engine an aligned copy rather than a misaligned pointer.
            return manager.create(copyDirect(bytes), shape, e.dtype().loadedAs());
        }
        return manager.create(bytes, shape, e.dtype().loadedAs());
    }

    /** Like {@link #read} but always backed by fresh memory, so the result may be modified in place. */
    public NDArray readCopy(String name, NDManager manager) {
        TensorEntry e = entry(name);
        if (e.byteLength() == 0) {
            return manager.zeros(e.djlShape(), e.dtype().loadedAs());
        }
        ByteBuffer bytes = map(e);
        if (e.dtype() == SafetensorsDType.BF16) {
            return manager.create(widenBf16(bytes, e), e.djlShape());
        }
        return manager.create(copyDirect(bytes), e.djlShape(), e.dtype().loadedAs());
    }

    /**
     * A floating-point tensor (F64, F32, F16 or BF16) as a float32 array in engine-owned memory, read in chunks
     * with positional reads instead of a mapping: nothing of the file stays resident or mapped afterwards, no
     * Java array of the tensor's size is made, and the memory is returned as soon as the array is closed (not when
     * the garbage collector gets round to a direct buffer). This is the streaming loader's path: the peak is the
     * result plus one {@value #CHUNK_ELEMENTS}-element staging buffer.
     *
     * @throws SafetensorsException for a non-floating tensor or a read error (naming the file and the tensor)
     */
    public synchronized NDArray readFloat32(String name, NDManager manager) {
        TensorEntry e = entry(name);
        if (!e.dtype().loadedAs().isFloating()) {
            throw new SafetensorsException(file + ": tensor '" + name + "' is " + e.dtype()
                    + ", not a floating-point tensor");
        }
        NDArray out = manager.zeros(e.djlShape(), DataType.FLOAT32);   // allocated by torch
        long n = e.elementCount();
        if (n == 0) {
            return out;
        }
        int esz = e.dtype().bytes();
        int chunk = (int) Math.min(CHUNK_ELEMENTS, n);
        ByteBuffer raw = staging(0, chunk * esz);
        ByteBuffer widened = e.dtype() == SafetensorsDType.BF16 ? staging(1, chunk * 4) : null;
        try (NDArray flat = out.reshape(-1)) {
            for (long start = 0; start < n; start += chunk) {
                int len = (int) Math.min(chunk, n - start);
                raw.clear().limit(len * esz);
                readFully(channel, raw, dataStart + e.begin() + start * esz);
                raw.flip();
                NDArray part;
                if (widened != null) {
                    widened.clear();
                    for (int i = 0; i < len; i++) {
                        widened.putInt(i * 4, (raw.getShort(i * 2) & 0xFFFF) << 16);   // bf16 = float32's top half
                    }
                    widened.limit(len * 4);
                    part = manager.create(widened, new Shape(len), DataType.FLOAT32);
                } else {
                    part = manager.create(raw, new Shape(len), e.dtype().loadedAs());
                }
                try (part) {
                    if (part.getDataType() != DataType.FLOAT32) {
                        try (NDArray f = part.toType(DataType.FLOAT32, false)) {
                            flat.set(new NDIndex("{}:{}", start, start + len), f);
                        }
                    } else {
                        flat.set(new NDIndex("{}:{}", start, start + len), part);
                    }
                }
            }
        } catch (IOException ex) {
            out.close();
            throw new SafetensorsException(file + ": cannot read tensor '" + name + "': " + ex.getMessage(), ex);
        } catch (RuntimeException ex) {
            out.close();
            throw ex;
        }
        return out;
    }

    /**
     * A reusable direct staging buffer of at least {@code bytes} (slot 0: file bytes, 1: widened floats). Reused
     * across tensors because direct memory is only returned when the garbage collector runs: a fresh pair per
     * tensor left gigabytes of dead buffers resident while a large model loaded.
     */
    private ByteBuffer staging(int slot, int bytes) {
        ByteBuffer b = stagingBuffers[slot];
        if (b == null || b.capacity() < bytes) {
            b = ByteBuffer.allocateDirect(bytes).order(ByteOrder.LITTLE_ENDIAN);
            stagingBuffers[slot] = b;
        }
        b.clear();
        return b;
    }

    /** Reads every tensor (see {@link #read}). */
    public Map<String, NDArray> readAll(NDManager manager) {
        Map<String, NDArray> out = new LinkedHashMap<>();
        for (String n : entries.keySet()) {
            out.put(n, read(n, manager));
        }
        return out;
    }

    /** The raw little-endian bytes of a tensor (a read-only mapped view). */
    public ByteBuffer rawBytes(String name) {
        TensorEntry e = entry(name);
        return e.byteLength() == 0 ? ByteBuffer.allocate(0) : map(e);
    }

    private ByteBuffer map(TensorEntry e) {
        try {
            MappedByteBuffer m = channel.map(FileChannel.MapMode.READ_ONLY, dataStart + e.begin(), e.byteLength());
            // The engine reads the buffer from its base address, so hand it a slice that starts at position 0.
            return m.slice().order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException ex) {
            throw new SafetensorsException(file + ": cannot map tensor '" + e.name() + "': " + ex.getMessage(), ex);
        }
    }

    private static float[] widenBf16(ByteBuffer bytes, TensorEntry e) {
        long n = e.elementCount();
        if (n > Integer.MAX_VALUE) {
            throw new SafetensorsException("tensor '" + e.name() + "' is too large to widen from BF16 (" + n
                    + " elements)");
        }
        float[] out = new float[(int) n];
        java.nio.ShortBuffer s = bytes.order(ByteOrder.LITTLE_ENDIAN).asShortBuffer();
        for (int i = 0; i < out.length; i++) {
            // bf16 is the upper half of an IEEE float32.
            out[i] = Float.intBitsToFloat((s.get(i) & 0xFFFF) << 16);
        }
        return out;
    }

    private static ByteBuffer copyDirect(ByteBuffer src) {
        ByteBuffer dst = ByteBuffer.allocateDirect(src.remaining()).order(ByteOrder.LITTLE_ENDIAN);
        dst.put(src.duplicate());
        dst.flip();
        return dst;
    }

    static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            int r = ch.read(buf, pos + buf.position());
            if (r < 0) {
                throw new IOException("unexpected end of file");
            }
        }
    }

    static String sample(java.util.Collection<String> names, int max) {
        List<String> l = new ArrayList<>();
        for (String s : names) {
            if (l.size() == max) {
                l.add("...");
                break;
            }
            l.add(s);
        }
        return l.toString();
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // already failing
        }
    }

    /** Closes the file; arrays already read stay valid (mappings live until they are garbage collected). */
    @Override
    public void close() {
        stagingBuffers[0] = null;
        stagingBuffers[1] = null;
        closeQuietly(channel);
    }
}
