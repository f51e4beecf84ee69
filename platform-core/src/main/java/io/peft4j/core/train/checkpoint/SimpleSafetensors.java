package io.peft4j.core.train.checkpoint;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small safetensors writer/reader for checkpoints (the format: 8-byte little-endian header length, a JSON header
 * {@code {"__metadata__": {..}, name: {"dtype", "shape", "data_offsets": [begin, end]}}} padded with spaces to a
 * multiple of 8, then the raw little-endian data). Reads the whole file into the heap, which suits checkpoints of
 * trainable tensors; large frozen weights use the platform's mmap reader.
 */
public final class SimpleSafetensors implements TensorFileFormat {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Override
    public String extension() {
        return "safetensors";
    }

    @Override
    public void write(Path file, Map<String, NDArray> tensors, Map<String, String> metadata) throws IOException {
        Map<String, Object> header = new LinkedHashMap<>();
        if (!metadata.isEmpty()) {
            header.put("__metadata__", new LinkedHashMap<>(metadata));
        }
        List<byte[]> blobs = new ArrayList<>();
        long offset = 0;
        for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
            NDArray a = e.getValue();
            byte[] data = a.toByteArray(); // native order; DJL runs on little-endian hosts only
            Map<String, Object> info = new LinkedHashMap<>();
            info.put("dtype", code(a.getDataType(), e.getKey()));
            info.put("shape", a.getShape().getShape());
            info.put("data_offsets", new long[] {offset, offset + data.length});
            header.put(e.getKey(), info);
            blobs.add(data);
            offset += data.length;
        }
        byte[] json = JSON.writeValueAsBytes(header);
        int padded = (json.length + 7) / 8 * 8;
        byte[] head = new byte[padded];
        System.arraycopy(json, 0, head, 0, json.length);
        for (int i = json.length; i < padded; i++) {
            head[i] = ' ';
        }
        AtomicFiles.write(file, out -> {
            out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded).array());
            out.write(head);
            for (byte[] b : blobs) {
                out.write(b);
            }
        });
    }

    @Override
    public Map<String, NDArray> read(Path file, NDManager manager) throws IOException {
        byte[] all = Files.readAllBytes(file);
        if (all.length < 8) {
            throw new IOException(file + ": too short for a safetensors file (" + all.length + " bytes)");
        }
        long headerLen = ByteBuffer.wrap(all, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        if (headerLen < 2 || 8 + headerLen > all.length) {
            throw new IOException(file + ": header length " + headerLen + " does not fit the file of " + all.length
                    + " bytes");
        }
        Map<String, Object> header = JSON.readValue(new String(all, 8, (int) headerLen, StandardCharsets.UTF_8),
                new TypeReference<LinkedHashMap<String, Object>>() { });
        long base = 8 + headerLen;
        Map<String, NDArray> out = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : header.entrySet()) {
            if (e.getKey().equals("__metadata__")) {
                continue;
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> info = (Map<String, Object>) e.getValue();
            DataType dt = type(String.valueOf(info.get("dtype")), file, e.getKey());
            List<?> shapeList = (List<?>) info.get("shape");
            long[] shape = new long[shapeList.size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = ((Number) shapeList.get(i)).longValue();
            }
            List<?> offs = (List<?>) info.get("data_offsets");
            long begin = ((Number) offs.get(0)).longValue();
            long end = ((Number) offs.get(1)).longValue();
            long expected = new Shape(shape).size() * dt.getNumOfBytes();
            if (end - begin != expected || base + end > all.length || begin < 0) {
                throw new IOException(file + ": tensor '" + e.getKey() + "' has data_offsets [" + begin + ", " + end
                        + "], expected " + expected + " bytes within the file");
            }
            ByteBuffer buf = ByteBuffer.allocateDirect((int) expected).order(ByteOrder.nativeOrder());
            buf.put(all, (int) (base + begin), (int) expected).flip();
            out.put(e.getKey(), manager.create(buf, new Shape(shape), dt));
        }
        return out;
    }

    /** The {@code __metadata__} map of a file. */
    public static Map<String, String> metadata(Path file) throws IOException {
        byte[] all = Files.readAllBytes(file);
        long headerLen = ByteBuffer.wrap(all, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        Map<String, Object> header = JSON.readValue(new String(all, 8, (int) headerLen, StandardCharsets.UTF_8),
                new TypeReference<LinkedHashMap<String, Object>>() { });
        Map<String, String> out = new LinkedHashMap<>();
        if (header.get("__metadata__") instanceof Map<?, ?> m) {
            m.forEach((k, v) -> out.put(String.valueOf(k), String.valueOf(v)));
        }
        return out;
    }

    private static String code(DataType dt, String name) {
        return switch (dt) {
            case FLOAT32 -> "F32";
            case FLOAT16 -> "F16";
            case FLOAT64 -> "F64";
            case INT64 -> "I64";
            case INT32 -> "I32";
            case INT8 -> "I8";
            case UINT8 -> "U8";
            case BOOLEAN -> "BOOL";
            default -> throw new IllegalArgumentException("tensor '" + name + "': data type " + dt
                    + " is not supported in checkpoints");
        };
    }

    private static DataType type(String code, Path file, String name) throws IOException {
        return switch (code) {
            case "F32" -> DataType.FLOAT32;
            case "F16" -> DataType.FLOAT16;
            case "F64" -> DataType.FLOAT64;
            case "I64" -> DataType.INT64;
            case "I32" -> DataType.INT32;
            case "I8" -> DataType.INT8;
            case "U8" -> DataType.UINT8;
            case "BOOL" -> DataType.BOOLEAN;
            default -> throw new IOException(file + ": tensor '" + name + "' has dtype " + code
                    + "; checkpoints support F32, F16, F64, I64, I32, I8, U8, BOOL");
        };
    }
}
