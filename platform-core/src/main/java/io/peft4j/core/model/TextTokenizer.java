package io.peft4j.core.model;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Arrays;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

/**
 * A Hugging Face {@code tokenizer.json} tokenizer (Rust tokenizers through DJL), without padding or truncation.
 * Special tokens are not added by the tokenizer's post-processor; {@link #encode} prepends BOS itself when asked,
 * so the behaviour is the same for tokenizers whose post-processor adds nothing.
 *
 * <p>BOS/EOS are resolved from the {@code bos_token}/{@code eos_token} of a sibling {@code tokenizer_config.json}
 * when present, otherwise from the usual names ({@code <s>}, {@code </s>}, {@code <|begin_of_text|>},
 * {@code <|end_of_text|>}, {@code <|endoftext|>}); -1 when none is found.
 */
public final class TextTokenizer implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path file;
    private final HuggingFaceTokenizer tokenizer;
    private final int bosId;
    private final int eosId;
    private final int vocabSize;

    private TextTokenizer(Path file, HuggingFaceTokenizer tokenizer, int bosId, int eosId, int vocabSize) {
        this.file = file;
        this.tokenizer = tokenizer;
        this.bosId = bosId;
        this.eosId = eosId;
        this.vocabSize = vocabSize;
    }

    /**
     * Loads a tokenizer.
     *
     * @param tokenizerJson the {@code tokenizer.json} file, or a directory containing one
     * @throws ModelLoadException if the file is missing or malformed (the message names it)
     */
    public static TextTokenizer load(Path tokenizerJson) {
        Path file = Files.isDirectory(tokenizerJson) ? tokenizerJson.resolve("tokenizer.json") : tokenizerJson;
        if (!Files.isRegularFile(file)) {
            throw new ModelLoadException(file + ": tokenizer.json not found");
        }
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new ModelLoadException(file + ": tokenizer.json is not valid JSON: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject() || !root.path("model").isObject()) {
            throw new ModelLoadException(file + ": tokenizer.json has no 'model' object; not a Hugging Face tokenizer");
        }
        Map<String, Integer> tokens = new HashMap<>();
        int maxId = -1;
        JsonNode vocab = root.path("model").path("vocab");
        if (vocab.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = vocab.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                tokens.put(e.getKey(), e.getValue().asInt());
                maxId = Math.max(maxId, e.getValue().asInt());
            }
        } else if (vocab.isArray()) {   // Unigram: [[piece, score], ...]
            for (int i = 0; i < vocab.size(); i++) {
                tokens.put(vocab.get(i).path(0).asText(), i);
            }
            maxId = vocab.size() - 1;
        }
        for (JsonNode t : root.path("added_tokens")) {
            tokens.put(t.path("content").asText(), t.path("id").asInt());
            maxId = Math.max(maxId, t.path("id").asInt());
        }
        HuggingFaceTokenizer tok;
        try {
            tok = HuggingFaceTokenizer.builder().optTokenizerPath(file).optAddSpecialTokens(false).optPadding(false)
                    .optTruncation(false).build();
        } catch (IOException | RuntimeException e) {
            throw new ModelLoadException(file + ": cannot load tokenizer.json: " + e.getMessage(), e);
        }
        Map<String, String> special = specialTokenNames(file.getParent().resolve("tokenizer_config.json"));
        int bos = resolve(tokens, special.get("bos_token"), "<s>", "<|begin_of_text|>");
        int eos = resolve(tokens, special.get("eos_token"), "</s>", "<|end_of_text|>", "<|endoftext|>");
        return new TextTokenizer(file, tok, bos, eos, maxId + 1);
    }

    private static Map<String, String> specialTokenNames(Path config) {
        Map<String, String> out = new HashMap<>();
        if (!Files.isRegularFile(config)) {
            return out;
        }
        try {
            JsonNode root = JSON.readTree(config.toFile());
            for (String key : new String[] {"bos_token", "eos_token"}) {
                JsonNode n = root.path(key);
                if (n.isTextual()) {
                    out.put(key, n.asText());
                } else if (n.isObject() && n.path("content").isTextual()) {
                    out.put(key, n.path("content").asText());
                }
            }
        } catch (IOException e) {
            throw new ModelLoadException(config + ": tokenizer_config.json is not valid JSON: " + e.getMessage(), e);
        }
        return out;
    }

    private static int resolve(Map<String, Integer> tokens, String configured, String... fallbacks) {
        if (configured != null && tokens.containsKey(configured)) {
            return tokens.get(configured);
        }
        for (String f : fallbacks) {
            if (tokens.containsKey(f)) {
                return tokens.get(f);
            }
        }
        return -1;
    }

    /** Token ids of {@code text}, with the BOS id first when {@code addBos} (and the tokenizer has a BOS token). */
    public long[] encode(String text, boolean addBos) {
        long[] ids = tokenizer.encode(text, false, false).getIds();
        if (!addBos || bosId < 0) {
            return ids;
        }
        long[] out = new long[ids.length + 1];
        out[0] = bosId;
        System.arraycopy(ids, 0, out, 1, ids.length);
        return out;
    }

    /**
     * Token ids of {@code text} (no BOS) with each token's span in the text, for loss masks by character ranges.
     * The tokenizer reports spans in Unicode code points; they are converted to Java {@code char} indices.
     */
    public TokenizedText encodeWithOffsets(String text) {
        ai.djl.huggingface.tokenizers.Encoding enc = tokenizer.encode(text, false, false);
        long[] ids = enc.getIds();
        ai.djl.huggingface.tokenizers.jni.CharSpan[] spans = enc.getCharTokenSpans();
        int[] starts = new int[ids.length];
        int[] ends = new int[ids.length];
        boolean supplementary = text.codePoints().count() != text.length();
        for (int i = 0; i < ids.length; i++) {
            ai.djl.huggingface.tokenizers.jni.CharSpan sp = spans == null || i >= spans.length ? null : spans[i];
            int s = sp == null ? (i == 0 ? 0 : ends[i - 1]) : sp.getStart();
            int e = sp == null ? s : sp.getEnd();
            if (supplementary) {
                s = text.offsetByCodePoints(0, Math.min(s, (int) text.codePoints().count()));
                e = text.offsetByCodePoints(0, Math.min(e, (int) text.codePoints().count()));
            }
            starts[i] = s;
            ends[i] = e;
        }
        return new TokenizedText(ids, starts, ends);
    }

    /** Text of {@code ids}, skipping special tokens (BOS, EOS, ...). */
    public String decode(long[] ids) {
        return tokenizer.decode(ids, true);
    }

    /**
     * The text {@code newIds} add after {@code promptIds}. Decoding them alone would drop the space SentencePiece
     * encodes in a word-start marker ("Once" + "▁upon" -> "Onceupon"), so, as transformers' text streamers do, the
     * prompt and the continuation are decoded together and the prompt's own text is cut off the front.
     */
    public String decodeContinuation(long[] promptIds, long[] newIds) {
        String prompt = decode(promptIds);
        long[] all = Arrays.copyOf(promptIds, promptIds.length + newIds.length);
        System.arraycopy(newIds, 0, all, promptIds.length, newIds.length);
        String full = decode(all);
        // The decoder may normalise the prompt differently once text follows it; then fall back to the ids alone.
        return full.startsWith(prompt) ? full.substring(prompt.length()) : decode(newIds);
    }

    /** Text of {@code ids}; special tokens are kept when {@code skipSpecialTokens} is false. */
    public String decode(long[] ids, boolean skipSpecialTokens) {
        return tokenizer.decode(ids, skipSpecialTokens);
    }

    /** The BOS id, or -1. */
    public int bosId() {
        return bosId;
    }

    /** The EOS id, or -1. */
    public int eosId() {
        return eosId;
    }

    /** Number of token ids (largest id + 1). */
    public int vocabSize() {
        return vocabSize;
    }

    public Path file() {
        return file;
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
