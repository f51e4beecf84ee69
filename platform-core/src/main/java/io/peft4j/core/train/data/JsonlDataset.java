package io.peft4j.core.train.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.List;

/**
 * JSON Lines of {@code {"text"}} or {@code {"prompt", "completion"}} rows: {@link #read} reads a file through
 * {@link Datasets} (one format per file), {@link #parseLine} tokenizes one line on its own. Errors name the file and
 * the 1-based line.
 */
public final class JsonlDataset {
    private static final ObjectMapper JSON = new ObjectMapper();

    private JsonlDataset() {
    }

    /**
     * Reads and tokenizes every example of {@code file} (one format per file, detected from the first line; see
     * {@link Datasets}).
     */
    public static List<Example> read(Path file, TextEncoder encoder, DataOptions options) {
        return Datasets.read(file, DataSpec.of(options), Tokenization.withoutOffsets(encoder)).examples();
    }

    /**
     * Parses and tokenizes one line (a {@code text} or {@code prompt_completion} row, see {@link Datasets}).
     *
     * @param where {@code file:line}, put at the start of error messages
     */
    public static Example parseLine(String line, String where, TextEncoder encoder, DataOptions options) {
        JsonNode node;
        try {
            node = JSON.readTree(line);
        } catch (JsonProcessingException e) {
            throw new DatasetException(where + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (node == null || !node.isObject()) {
            throw new DatasetException(where + ": expected a JSON object");
        }
        return Datasets.encode(new DataRecord((com.fasterxml.jackson.databind.node.ObjectNode) node, where),
                DataSpec.of(options), Tokenization.withoutOffsets(encoder));
    }
}
