package io.peft4j.core.train.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Reads a JSON Lines training file. Each non-blank line is one object, either
 * <ul>
 *   <li>{@code {"text": "..."}}: language modelling, every token is a label; or</li>
 *   <li>{@code {"prompt": "...", "completion": "..."}}: the loss counts only the completion tokens (and the EOS);
 *       the prompt's labels are {@link Example#IGNORE_INDEX}.</li>
 * </ul>
 * Text is encoded with BOS per {@link DataOptions#addBos()}. A prompt/completion pair is encoded as
 * {@code prompt + completion} in one piece (as TRL does), and the first {@code len(encode(prompt))} tokens are masked;
 * EOS is appended when {@link DataOptions#appendEos()}. Examples longer than {@link DataOptions#maxLength()} are cut
 * to their first tokens or rejected. Other fields are
 * ignored. Errors name the file and the 1-based line.
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
     * Parses and tokenizes one line.
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
            throw new DatasetException(where + ": expected a JSON object, got " + kind(node));
        }
        boolean hasText = node.has("text");
        boolean hasPrompt = node.has("prompt") || node.has("completion");
        if (hasText && hasPrompt) {
            throw new DatasetException(where + ": has both \"text\" and \"prompt\"/\"completion\"; use one form");
        }
        long[] ids;
        long[] labels;
        if (hasText) {
            ids = encoder.encode(string(node, "text", where), options.addBos());
            labels = ids.clone();
        } else if (hasPrompt) {
            String prompt = string(node, "prompt", where);
            String completion = string(node, "completion", where);
            // As TRL's SFTTrainer: tokenize prompt + completion together (tokenizers merge across the seam) and
            // mask as many leading tokens as the prompt alone encodes to.
            int promptLen = encoder.encode(prompt, options.addBos()).length;
            ids = encoder.encode(prompt + completion, options.addBos());
            labels = ids.clone();
            Arrays.fill(labels, 0, Math.min(promptLen, ids.length), Example.IGNORE_INDEX);
            if (ids.length <= promptLen && !options.appendEos()) {
                throw new DatasetException(where + ": \"completion\" adds no tokens and eos is not appended, "
                        + "so the example has nothing to learn");
            }
        } else {
            throw new DatasetException(where + ": expected a \"text\" field, or \"prompt\" and \"completion\" fields");
        }
        if (options.appendEos()) {
            ids = concat(ids, new long[] {options.eosId()});
            labels = concat(labels, new long[] {options.eosId()});
        }
        if (ids.length == 0) {
            throw new DatasetException(where + ": encodes to no tokens");
        }
        if (ids.length > options.maxLength()) {
            if (!options.truncate()) {
                throw new DatasetException(where + ": " + ids.length + " tokens, longer than the context of "
                        + options.maxLength() + "; shorten it or set truncate: true");
            }
            ids = Arrays.copyOf(ids, options.maxLength());
            labels = Arrays.copyOf(labels, options.maxLength());
        }
        return new Example(ids, labels, where);
    }

    private static String string(JsonNode node, String field, String where) {
        JsonNode v = node.get(field);
        if (v == null) {
            throw new DatasetException(where + ": missing field \"" + field + "\"");
        }
        if (!v.isTextual()) {
            throw new DatasetException(where + ": field \"" + field + "\" must be a string, got " + kind(v));
        }
        return v.textValue();
    }

    private static String kind(JsonNode n) {
        if (n == null || n.isMissingNode()) {
            return "nothing";
        }
        return n.getNodeType().name().toLowerCase(java.util.Locale.ROOT);
    }

    private static long[] concat(long[] a, long[] b) {
        long[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
