package io.peft4j.core.model;

import java.util.List;
import java.util.Set;

/**
 * Settings of {@link Generator}.
 *
 * @param maxNewTokens  tokens to generate at most per prompt
 * @param temperature   0 for greedy (argmax); otherwise logits are divided by it before sampling
 * @param topK          keep only the k most likely tokens (0: off)
 * @param topP          nucleus sampling: keep the smallest set of most likely tokens whose probability reaches p
 *                      (1: off)
 * @param seed          seed of the sampler; prompt {@code i} of a batch uses {@code seed + i}, so a prompt samples
 *                      the same alone as in a batch at index 0
 * @param stopTokenIds  a row stops when it generates one of these (not included in the output); null means
 *                      {@code {eos}} of the tokenizer. stories260K emits BOS (1) between stories: add 1 to stop there
 * @param stopStrings   a row stops once its generated text contains one of these; the text is cut before it
 * @param addBos        prepend BOS to each prompt
 */
public record GenerationOptions(int maxNewTokens, double temperature, int topK, double topP, long seed,
                                Set<Long> stopTokenIds, List<String> stopStrings, boolean addBos) {

    public GenerationOptions {
        if (maxNewTokens < 0) {
            throw new IllegalArgumentException("maxNewTokens must be >= 0, got " + maxNewTokens);
        }
        if (temperature < 0 || Double.isNaN(temperature)) {
            throw new IllegalArgumentException("temperature must be >= 0, got " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("topK must be >= 0, got " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("topP must be in (0, 1], got " + topP);
        }
        stopTokenIds = stopTokenIds == null ? null : Set.copyOf(stopTokenIds);
        stopStrings = stopStrings == null ? List.of() : List.copyOf(stopStrings);
    }

    /** Greedy decoding, stopping at EOS, with BOS prepended. */
    public static GenerationOptions greedy(int maxNewTokens) {
        return new GenerationOptions(maxNewTokens, 0, 0, 1, 0, null, List.of(), true);
    }

    /** Sampling with temperature, top-k and top-p. */
    public static GenerationOptions sampling(int maxNewTokens, double temperature, int topK, double topP, long seed) {
        return new GenerationOptions(maxNewTokens, temperature, topK, topP, seed, null, List.of(), true);
    }

    public GenerationOptions withStopTokenIds(Set<Long> ids) {
        return new GenerationOptions(maxNewTokens, temperature, topK, topP, seed, ids, stopStrings, addBos);
    }

    public GenerationOptions withStopStrings(List<String> strings) {
        return new GenerationOptions(maxNewTokens, temperature, topK, topP, seed, stopTokenIds, strings, addBos);
    }

    public GenerationOptions withAddBos(boolean add) {
        return new GenerationOptions(maxNewTokens, temperature, topK, topP, seed, stopTokenIds, stopStrings, add);
    }
}
