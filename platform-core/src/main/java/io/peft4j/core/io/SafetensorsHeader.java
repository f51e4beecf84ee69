package io.peft4j.core.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The validated header of a safetensors file: 8-byte little-endian length {@code n} (2 to
 * {@link SafetensorsReader#MAX_HEADER_BYTES}, within the file), {@code n} bytes of a UTF-8 JSON object mapping each
 * tensor name to {@code {"dtype", "shape", "data_offsets": [begin, end]}} with a supported dtype, non-negative
 * integer dims, {@code end - begin = prod(shape) × dtype bytes} (no 64-bit overflow), the range inside the data
 * section and no two non-empty ranges overlapping; plus an optional {@code "__metadata__"} object of strings. Every
 * violation is a {@link SafetensorsException} naming the file and the tensor.
 *
 * @param dataStart byte offset of the data section ({@code 8 + n})
 * @param entries   the tensors, sorted by name
 * @param metadata  {@code __metadata__} (empty when absent)
 */
record SafetensorsHeader(long dataStart, Map<String, TensorEntry> entries, Map<String, String> metadata) {
    private static final ObjectMapper JSON = new ObjectMapper();

    static SafetensorsHeader read(Path file, FileChannel ch) {
        try {
            long size = ch.size();
            if (size < 8) {
                throw new SafetensorsException(file + ": truncated file: " + size
                        + " bytes, shorter than the 8-byte header length");
            }
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            SafetensorsReader.readFully(ch, lenBuf, 0);
            long n = lenBuf.getLong(0);
            if (n < 2 || n > SafetensorsReader.MAX_HEADER_BYTES) {
                throw new SafetensorsException(file + ": absurd header length " + n + " (expected 2.." + SafetensorsReader.MAX_HEADER_BYTES
                        + " bytes); not a safetensors file or corrupt");
            }
            if (n > size - 8) {
                throw new SafetensorsException(file + ": header length " + n + " exceeds the file size " + size
                        + " (truncated file?)");
            }
            ByteBuffer hb = ByteBuffer.allocate((int) n);
            SafetensorsReader.readFully(ch, hb, 8);
            String headerText = new String(hb.array(), StandardCharsets.UTF_8);
            JsonNode header;
            try {
                header = JSON.readTree(headerText);
            } catch (JsonProcessingException e) {
                throw new SafetensorsException(file + ": header is not valid JSON: " + e.getOriginalMessage(), e);
            }
            if (header == null || !header.isObject()) {
                throw new SafetensorsException(file + ": header must be a JSON object");
            }
            long dataSize = size - 8 - n;
            Map<String, String> metadata = new LinkedHashMap<>();
            Map<String, TensorEntry> entries = new TreeMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> f = it.next();
                if (f.getKey().equals("__metadata__")) {
                    parseMetadata(file, f.getValue(), metadata);
                } else {
                    entries.put(f.getKey(), parseEntry(file, f.getKey(), f.getValue(), dataSize));
                }
            }
            checkOverlaps(file, entries);
            return new SafetensorsHeader(8 + n, Collections.unmodifiableMap(entries),
                    Collections.unmodifiableMap(metadata));
        } catch (IOException e) {
            throw new SafetensorsException(file + ": cannot read safetensors header: " + e.getMessage(), e);
        }
    }

    private static void parseMetadata(Path file, JsonNode node, Map<String, String> out) {
        if (!node.isObject()) {
            throw new SafetensorsException(file + ": __metadata__ must be an object of strings");
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> m = it.next();
            if (!m.getValue().isTextual()) {
                throw new SafetensorsException(file + ": __metadata__ value of '" + m.getKey() + "' must be a string");
            }
            out.put(m.getKey(), m.getValue().asText());
        }
    }

    private static TensorEntry parseEntry(Path file, String name, JsonNode node, long dataSize) {
        String where = file + ": tensor '" + name + "'";
        if (!node.isObject()) {
            throw new SafetensorsException(where + ": header entry must be an object");
        }
        JsonNode dt = node.get("dtype");
        if (dt == null || !dt.isTextual()) {
            throw new SafetensorsException(where + ": missing string field 'dtype'");
        }
        SafetensorsDType dtype = SafetensorsDType.fromName(dt.asText()).orElseThrow(() -> new SafetensorsException(
                where + ": unknown or unsupported dtype '" + dt.asText() + "' (supported: "
                        + SafetensorsDType.supportedNames() + ")"));
        JsonNode sh = node.get("shape");
        if (sh == null || !sh.isArray()) {
            throw new SafetensorsException(where + ": missing array field 'shape'");
        }
        long[] shape = new long[sh.size()];
        long count = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = sh.get(i);
            if (!d.canConvertToLong() || !d.isIntegralNumber() || d.asLong() < 0) {
                throw new SafetensorsException(where + ": shape entries must be non-negative integers, got " + sh);
            }
            shape[i] = d.asLong();
            count = multiplyOrFail(count, shape[i], where + ": shape " + sh + " has more elements than fit in a"
                    + " 64-bit count");
        }
        JsonNode off = node.get("data_offsets");
        if (off == null || !off.isArray() || off.size() != 2 || !off.get(0).isIntegralNumber()
                || !off.get(1).isIntegralNumber() || !off.get(0).canConvertToLong()
                || !off.get(1).canConvertToLong()) {
            throw new SafetensorsException(where + ": 'data_offsets' must be [begin, end], got " + off);
        }
        long begin = off.get(0).asLong();
        long end = off.get(1).asLong();
        if (begin < 0 || end < begin) {
            throw new SafetensorsException(where + ": invalid data_offsets [" + begin + ", " + end + "]");
        }
        long expected = multiplyOrFail(count, dtype.bytes(), where + ": shape " + sh + " x " + dtype + " ("
                + dtype.bytes() + " bytes) is more bytes than fit in a 64-bit size");
        if (end - begin != expected) {
            throw new SafetensorsException(where + ": shape " + sh + " x " + dtype + " (" + dtype.bytes()
                    + " bytes) needs " + expected + " bytes but data_offsets [" + begin + ", " + end + "] span "
                    + (end - begin));
        }
        if (end > dataSize) {
            throw new SafetensorsException(where + ": data_offsets [" + begin + ", " + end
                    + "] lie outside the data section of " + dataSize + " bytes (truncated file?)");
        }
        return new TensorEntry(name, dtype, shape, begin, end);
    }

    /** {@code a * b} for non-negative factors, or a format error (never an ArithmeticException). */
    private static long multiplyOrFail(long a, long b, String message) {
        long hi = Math.multiplyHigh(a, b);
        long lo = a * b;
        if (hi != 0 || lo < 0) {
            throw new SafetensorsException(message);
        }
        return lo;
    }

    private static void checkOverlaps(Path file, Map<String, TensorEntry> entries) {
        List<TensorEntry> byOffset = new ArrayList<>(entries.values());
        byOffset.removeIf(e -> e.byteLength() == 0);
        byOffset.sort(Comparator.comparingLong(TensorEntry::begin));
        for (int i = 1; i < byOffset.size(); i++) {
            TensorEntry prev = byOffset.get(i - 1);
            TensorEntry cur = byOffset.get(i);
            if (cur.begin() < prev.end()) {
                throw new SafetensorsException(file + ": tensors '" + prev.name() + "' [" + prev.begin() + ", "
                        + prev.end() + ") and '" + cur.name() + "' [" + cur.begin() + ", " + cur.end() + ") overlap");
            }
        }
    }
}
