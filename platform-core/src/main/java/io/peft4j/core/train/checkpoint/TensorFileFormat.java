package io.peft4j.core.train.checkpoint;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/** Named-tensor files for checkpoints; kept behind this interface so the platform's safetensors I/O can replace it. */
public interface TensorFileFormat {

    /** The file name extension, without the dot. */
    String extension();

    /** Writes the tensors (in map order) and string metadata to {@code file}, atomically. */
    void write(Path file, Map<String, NDArray> tensors, Map<String, String> metadata) throws IOException;

    /** Reads every tensor into {@code manager}, in file order. */
    Map<String, NDArray> read(Path file, NDManager manager) throws IOException;
}
