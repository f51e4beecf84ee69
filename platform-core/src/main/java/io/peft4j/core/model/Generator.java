package io.peft4j.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * Text generation with a KV cache: one prefill pass over the (left-padded) prompts, then one token per step.
 * Left padding uses an attention mask, and positions count real tokens only, so each prompt generates what it would
 * alone. Sampling happens in Java from the softmax of the last logits ({@code randomMultinomial} is not available in
 * DJL's PyTorch engine).
 */
public final class Generator {
    private final CausalLM model;
    private final TextTokenizer tokenizer;

    /** Why a row stopped. */
    public enum StopReason { STOP_TOKEN, STOP_STRING, MAX_TOKENS }

    /**
     * One generated continuation.
     *
     * @param promptIds the prompt ids (BOS included when added)
     * @param newIds    generated ids, without the stop token
     * @param text      the generated text: decode(prompt + new ids) minus decode(prompt), so a SentencePiece
     *                  word-start marker on the first new token keeps its space (cut before a stop string)
     * @param reason    why generation stopped
     */
    public record Result(long[] promptIds, long[] newIds, String text, StopReason reason) {
    }

    public Generator(CausalLM model, TextTokenizer tokenizer) {
        this.model = model;
        this.tokenizer = tokenizer;
    }

    public Result generate(String prompt, GenerationOptions options) {
        return generate(List.of(prompt), options).get(0);
    }

    public List<Result> generate(List<String> prompts, GenerationOptions options) {
        return generate(prompts, options, null);
    }

    /**
     * Generates a mixed batch: prompt {@code i} runs with adapter {@code rows.perRow().get(i)} (or none), in one
     * batch. {@code rows} null: the active adapters for every prompt.
     */
    public List<Result> generate(List<String> prompts, GenerationOptions options, RowAdapters rows) {
        List<long[]> ids = new ArrayList<>();
        for (String p : prompts) {
            ids.add(tokenizer.encode(p, options.addBos()));
        }
        return generateIds(ids, options, rows);
    }

    /** Generates from token ids (already containing BOS if wanted). */
    public List<Result> generateIds(List<long[]> prompts, GenerationOptions o) {
        return generateIds(prompts, o, null);
    }

    /** {@link #generateIds(List, GenerationOptions)} with optional per-row adapters (a mixed batch). */
    public List<Result> generateIds(List<long[]> prompts, GenerationOptions o, RowAdapters rows) {
        int b = prompts.size();
        if (b == 0) {
            return List.of();
        }
        if (rows != null && rows.batchSize() != b) {
            throw new IllegalArgumentException("got " + rows.batchSize() + " per-row adapters for " + b + " prompts");
        }
        int maxLen = 0;
        for (long[] p : prompts) {
            if (p.length == 0) {
                throw new IllegalArgumentException("empty prompt: at least one token is needed");
            }
            maxLen = Math.max(maxLen, p.length);
        }
        int maxPos = model.shape().maxPositionEmbeddings();
        if (maxLen + o.maxNewTokens() > maxPos) {
            throw new IllegalArgumentException("prompt (" + maxLen + " tokens) + maxNewTokens (" + o.maxNewTokens()
                    + ") exceeds max_position_embeddings = " + maxPos);
        }
        Set<Long> stops = o.stopTokenIds() != null ? o.stopTokenIds()
                : tokenizer.eosId() >= 0 ? Set.of((long) tokenizer.eosId()) : Set.of();
        long pad = tokenizer.eosId() >= 0 ? tokenizer.eosId() : 0;
        long[] flatIds = new long[b * maxLen];
        long[] mask = new long[b * maxLen];
        boolean padded = false;
        for (int i = 0; i < b; i++) {
            long[] p = prompts.get(i);
            int off = maxLen - p.length;
            padded |= off > 0;
            Arrays.fill(flatIds, i * maxLen, i * maxLen + off, pad);
            System.arraycopy(p, 0, flatIds, i * maxLen + off, p.length);
            Arrays.fill(mask, i * maxLen + off, (i + 1) * maxLen, 1L);
        }
        Random[] rngs = new Random[b];
        for (int i = 0; i < b; i++) {
            rngs[i] = new Random(o.seed() + i);
        }
        List<List<Long>> out = new ArrayList<>();
        StopReason[] reasons = new StopReason[b];
        String[] texts = new String[b];
        for (int i = 0; i < b; i++) {
            out.add(new ArrayList<>());
        }
        int done = 0;
        try (NDManager gm = model.manager().newSubManager();
             KvCache cache = new KvCache(model.shape().numLayers(), maxPos, model.manager())) {
            PlatformForwardContext ctx = PlatformForwardContext.eval(gm);
            int vocab = model.shape().vocabSize();
            NDArray input = gm.create(flatIds, new Shape(b, maxLen));
            int maskLen = maxLen;
            long[] fullMask = mask;
            for (int step = 0; step < o.maxNewTokens() && done < b; step++) {
                float[] last;
                try (NDManager sm = gm.newSubManager()) {
                    PlatformForwardContext stepCtx = PlatformForwardContext.eval(sm, rows);
                    NDArray maskArr = padded ? sm.create(fullMask, new Shape(b, maskLen)) : null;
                    NDArray logits = model.forward(input, maskArr, cache, stepCtx);
                    last = logits.get(new NDIndex(":, -1, :")).toFloatArray();
                }
                input.close();
                long[] next = new long[b];
                for (int i = 0; i < b; i++) {
                    if (reasons[i] != null) {
                        next[i] = pad;
                        continue;
                    }
                    long tok = pick(last, i * vocab, vocab, o, rngs[i]);
                    next[i] = tok;
                    if (stops.contains(tok)) {
                        reasons[i] = StopReason.STOP_TOKEN;
                        done++;
                        continue;
                    }
                    out.get(i).add(tok);
                    if (!o.stopStrings().isEmpty()) {
                        String t = continuation(prompts.get(i), toArray(out.get(i)));
                        for (String s : o.stopStrings()) {
                            int at = t.indexOf(s);
                            if (at >= 0) {
                                texts[i] = t.substring(0, at);
                                reasons[i] = StopReason.STOP_STRING;
                                done++;
                                break;
                            }
                        }
                    }
                }
                if (padded) {
                    long[] grown = new long[b * (maskLen + 1)];
                    for (int i = 0; i < b; i++) {
                        System.arraycopy(fullMask, i * maskLen, grown, i * (maskLen + 1), maskLen);
                        grown[i * (maskLen + 1) + maskLen] = 1L;
                    }
                    fullMask = grown;
                    maskLen++;
                }
                input = gm.create(next, new Shape(b, 1));
            }
        }
        List<Result> results = new ArrayList<>(b);
        for (int i = 0; i < b; i++) {
            long[] ids = toArray(out.get(i));
            String text = texts[i] != null ? texts[i] : continuation(prompts.get(i), ids);
            results.add(new Result(prompts.get(i).clone(), ids, text,
                    reasons[i] != null ? reasons[i] : StopReason.MAX_TOKENS));
        }
        return results;
    }

    private String continuation(long[] promptIds, long[] newIds) {
        return tokenizer.decodeContinuation(promptIds, newIds);
    }

    /** Argmax (temperature 0) or a sample from softmax(logits / T) restricted by top-k and top-p. */
    public static long pick(float[] logits, int off, int n, GenerationOptions o, Random rng) {
        if (o.temperature() == 0) {
            int best = 0;
            for (int j = 1; j < n; j++) {
                if (logits[off + j] > logits[off + best]) {
                    best = j;
                }
            }
            return best;
        }
        Integer[] order = new Integer[n];
        for (int j = 0; j < n; j++) {
            order[j] = j;
        }
        Arrays.sort(order, (a, c) -> Float.compare(logits[off + c], logits[off + a]));
        int keep = o.topK() > 0 ? Math.min(o.topK(), n) : n;
        double max = logits[off + order[0]] / o.temperature();
        double[] p = new double[keep];
        double sum = 0;
        for (int j = 0; j < keep; j++) {
            p[j] = Math.exp(logits[off + order[j]] / o.temperature() - max);
            sum += p[j];
        }
        if (o.topP() < 1) {
            double cum = 0;
            int cut = keep;
            for (int j = 0; j < keep; j++) {
                cum += p[j] / sum;
                if (cum >= o.topP()) {
                    cut = j + 1;
                    break;
                }
            }
            keep = cut;
            sum = 0;
            for (int j = 0; j < keep; j++) {
                sum += p[j];
            }
        }
        double r = rng.nextDouble() * sum;
        for (int j = 0; j < keep; j++) {
            r -= p[j];
            if (r < 0) {
                return order[j];
            }
        }
        return order[keep - 1];
    }

    private static long[] toArray(List<Long> l) {
        long[] a = new long[l.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = l.get(i);
        }
        return a;
    }
}
