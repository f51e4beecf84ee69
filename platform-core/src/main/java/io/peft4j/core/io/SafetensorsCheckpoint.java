package io.peft4j.core.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The weights of a Hugging Face model directory: either a single {@code model.safetensors} or shards listed in
 * {@code model.safetensors.index.json} ({@code {"metadata": {...}, "weight_map": {tensor: shard file}}}).
 * Every shard named by the index is opened and validated, and every tensor the index lists must be in its shard.
 */
public final class SafetensorsCheckpoint implements AutoCloseable {
    public static final String SINGLE_FILE = "model.safetensors";
    public static final String INDEX_FILE = "model.safetensors.index.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path source;
    private final Map<String, SafetensorsReader> byTensor;   // sorted by name
    private final List<SafetensorsReader> readers;

    private SafetensorsCheckpoint(Path source, Map<String, SafetensorsReader> byTensor,
                                  List<SafetensorsReader> readers) {
        this.source = source;
        this.byTensor = byTensor;
        this.readers = readers;
    }

    /** Opens the weights in {@code dir}: {@code model.safetensors} if present, else the sharded index. */
    public static SafetensorsCheckpoint open(Path dir) {
        Path single = dir.resolve(SINGLE_FILE);
        if (Files.isRegularFile(single)) {
            return openFile(single);
        }
        Path index = dir.resolve(INDEX_FILE);
        if (Files.isRegularFile(index)) {
            return openIndex(index);
        }
        throw new SafetensorsException(dir + ": no weights found: expected " + SINGLE_FILE + " or " + INDEX_FILE);
    }

    /** Opens one safetensors file as a checkpoint. */
    public static SafetensorsCheckpoint openFile(Path file) {
        SafetensorsReader r = SafetensorsReader.open(file);
        Map<String, SafetensorsReader> map = new TreeMap<>();
        for (String n : r.names()) {
            map.put(n, r);
        }
        return new SafetensorsCheckpoint(file, map, List.of(r));
    }

    /** Opens a sharded checkpoint from its index file. */
    public static SafetensorsCheckpoint openIndex(Path indexFile) {
        JsonNode root;
        try {
            root = JSON.readTree(indexFile.toFile());
        } catch (IOException e) {
            throw new SafetensorsException(indexFile + ": cannot parse index JSON: " + e.getMessage(), e);
        }
        JsonNode wm = root == null ? null : root.get("weight_map");
        if (wm == null || !wm.isObject() || wm.isEmpty()) {
            throw new SafetensorsException(indexFile + ": missing or empty object 'weight_map'");
        }
        Path dir = indexFile.toAbsolutePath().getParent();
        Map<String, SafetensorsReader> shards = new LinkedHashMap<>();
        Map<String, SafetensorsReader> byTensor = new TreeMap<>();
        try {
            for (Iterator<Map.Entry<String, JsonNode>> it = wm.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> f = it.next();
                String tensor = f.getKey();
                if (!f.getValue().isTextual()) {
                    throw new SafetensorsException(indexFile + ": weight_map entry for '" + tensor
                            + "' must be a file name");
                }
                String shardName = f.getValue().asText();
                Path shard = dir.resolve(shardName).normalize();
                if (!shard.startsWith(dir) || shardName.contains("/") || shardName.contains("\\")) {
                    throw new SafetensorsException(indexFile + ": weight_map entry for '" + tensor + "' names '"
                            + shardName + "', which is not a file in " + dir);
                }
                SafetensorsReader r = shards.get(shardName);
                if (r == null) {
                    if (!Files.isRegularFile(shard)) {
                        throw new SafetensorsException(indexFile + ": shard '" + shardName + "' (holding '" + tensor
                                + "') does not exist");
                    }
                    r = SafetensorsReader.open(shard);
                    shards.put(shardName, r);
                }
                if (!r.contains(tensor)) {
                    throw new SafetensorsException(indexFile + ": tensor '" + tensor + "' is mapped to '" + shardName
                            + "' but that shard does not hold it");
                }
                byTensor.put(tensor, r);
            }
        } catch (RuntimeException e) {
            shards.values().forEach(SafetensorsReader::close);
            throw e;
        }
        return new SafetensorsCheckpoint(indexFile, byTensor, new ArrayList<>(shards.values()));
    }

    /** The file the checkpoint was opened from (the single file or the index). */
    public Path source() {
        return source;
    }

    /** All tensor names, sorted. */
    public Set<String> names() {
        return Collections.unmodifiableSet(byTensor.keySet());
    }

    public boolean contains(String name) {
        return byTensor.containsKey(name);
    }

    /** The header entry of a tensor; fails naming the checkpoint and a few tensors it holds. */
    public TensorEntry entry(String name) {
        return reader(name).entry(name);
    }

    /** Reads a tensor zero-copy where possible (see {@link SafetensorsReader#read}); never modify it in place. */
    public NDArray read(String name, NDManager manager) {
        return reader(name).read(name, manager);
    }

    /** A floating-point tensor as engine-owned float32, read without a mapping (see {@link SafetensorsReader#readFloat32}). */
    public NDArray readFloat32(String name, NDManager manager) {
        return reader(name).readFloat32(name, manager);
    }

    /** Reads a tensor into fresh memory. */
    public NDArray readCopy(String name, NDManager manager) {
        return reader(name).readCopy(name, manager);
    }

    /** The shard file that holds the tensor. */
    public Path fileOf(String name) {
        return reader(name).file();
    }

    /** The {@code __metadata__} of the first shard. */
    public Map<String, String> metadata() {
        return readers.get(0).metadata();
    }

    private SafetensorsReader reader(String name) {
        SafetensorsReader r = byTensor.get(name);
        if (r == null) {
            throw new SafetensorsException(source + ": no tensor named '" + name + "' (checkpoint holds "
                    + byTensor.size() + " tensors, e.g. " + SafetensorsReader.sample(byTensor.keySet(), 5) + ")");
        }
        return r;
    }

    @Override
    public void close() {
        readers.forEach(SafetensorsReader::close);
    }
}
