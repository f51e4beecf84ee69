package io.peft4j.serve.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import io.peft4j.core.model.KvCache;
import io.peft4j.core.model.LlamaModel;
import io.peft4j.core.model.LowRankStacks;
import io.peft4j.core.model.PlatformForwardContext;
import io.peft4j.core.model.RowAdapters;
import io.peft4j.core.peft.PeftModel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * The running rows of one batch group and their shared KV cache. Each row keeps its own length: the cache is as
 * long as the longest row and shorter rows are left-padded, with the attention mask hiding the padding (the model
 * then counts each row's positions over its real tokens only). A row joins with the cache of its own prefill pass;
 * a row that leaves is cut out and padding no row needs any more is trimmed.
 */
final class RowBatch implements AutoCloseable {
    /** One running request. */
    static final class Row {
        final GenerationRequest request;
        final Random rng;
        int length;          // tokens in the cache for this row
        long next;           // token to feed at the next decode step
        int generated;
        boolean firstTokenSeen;

        Row(GenerationRequest request) {
            this.request = request;
            this.rng = new Random(request.sampling().seed());
        }
    }

    private final LlamaModel model;
    private final LowRankStacks stacks;
    private final List<String> stack;     // null: a mixed batch (one adapter or none per row)
    final List<Row> rows = new ArrayList<>();
    private KvCache cache;
    private int length;

    /**
     * @param stacks the stacked low-rank path for mixed batches (or null)
     * @param stack  the adapters active for every row, or null for a mixed batch
     */
    RowBatch(LlamaModel model, LowRankStacks stacks, List<String> stack) {
        this.model = model;
        this.stacks = stacks;
        this.stack = stack;
    }

    boolean mixed() {
        return stack == null;
    }

    /**
     * Runs a new row's prompt alone and returns the logits of its last position; the row then joins this batch.
     */
    float[] prefill(Row row, PeftModel peft) {
        long[] prompt = row.request.prompt();
        KvCache own = model.newCache();
        float[] logits;
        try (NDManager sm = model.manager().newSubManager()) {
            PlatformForwardContext ctx = context(sm, Arrays.asList(row.request.selection().rowAdapter()), peft);
            NDArray out = model.forward(sm.create(prompt, new Shape(1, prompt.length)), null, own, ctx);
            logits = out.get(new NDIndex(":, -1, :")).toFloatArray();
        } catch (RuntimeException e) {
            own.close();
            throw e;
        }
        row.length = prompt.length;
        join(row, own);
        return logits;
    }

    /** One decode step of every row; returns the logits {@code [rows, vocab]} flattened. */
    float[] step(PeftModel peft) {
        int b = rows.size();
        long[] ids = new long[b];
        long[] mask = new long[b * (length + 1)];
        List<String> perRow = new ArrayList<>(b);
        for (int i = 0; i < b; i++) {
            Row r = rows.get(i);
            ids[i] = r.next;
            Arrays.fill(mask, i * (length + 1) + (length - r.length), (i + 1) * (length + 1), 1L);
            perRow.add(r.request.selection().rowAdapter());
        }
        float[] logits;
        try (NDManager sm = model.manager().newSubManager()) {
            PlatformForwardContext ctx = context(sm, perRow, peft);
            NDArray out = model.forward(sm.create(ids, new Shape(b, 1)), sm.create(mask, new Shape(b, length + 1)),
                    cache, ctx);
            logits = out.toFloatArray();
        }
        length++;
        for (Row r : rows) {
            r.length++;
        }
        return logits;
    }

    private PlatformForwardContext context(NDManager sm, List<String> perRow, PeftModel peft) {
        if (stack == null) {
            return PlatformForwardContext.eval(sm, new RowAdapters(perRow, stacks));
        }
        if (!peft.active().equals(stack)) {
            peft.setActive(stack);
        }
        return PlatformForwardContext.eval(sm);
    }

    /** Adds a row whose prefill filled {@code own}; the caches are padded to one length and stacked. */
    private void join(Row row, KvCache own) {
        if (rows.isEmpty()) {
            cache = own;
            length = own.length();
            rows.add(row);
            return;
        }
        int newLength = Math.max(length, own.length());
        KvCache merged = model.newCache();
        try (NDManager tmp = model.manager().newSubManager()) {
            for (int l = 0; l < cache.numLayers(); l++) {
                NDArray k = leftPad(cache.keys(l), newLength, tmp).concat(leftPad(own.keys(l), newLength, tmp), 0);
                NDArray v = leftPad(cache.values(l), newLength, tmp)
                        .concat(leftPad(own.values(l), newLength, tmp), 0);
                merged.append(l, k, v);
            }
        } catch (RuntimeException e) {
            merged.close();
            own.close();
            throw e;
        }
        merged.advance(newLength, rows.size() + 1);
        cache.close();
        own.close();
        cache = merged;
        length = newLength;
        rows.add(row);
    }

    private static NDArray leftPad(NDArray a, int len, NDManager tmp) {
        Shape s = a.getShape();
        if (s.get(2) == len) {
            return a;
        }
        return tmp.zeros(new Shape(s.get(0), s.get(1), len - s.get(2), s.get(3)), a.getDataType()).concat(a, 2);
    }

    /** Removes rows; the cache keeps the others and drops leading padding none of them needs. */
    void remove(Set<Row> gone) {
        if (gone.isEmpty()) {
            return;
        }
        List<Row> kept = new ArrayList<>();
        List<Long> keptIdx = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            if (!gone.contains(rows.get(i))) {
                kept.add(rows.get(i));
                keptIdx.add((long) i);
            }
        }
        if (kept.isEmpty()) {
            close();
            return;
        }
        int longest = kept.stream().mapToInt(r -> r.length).max().orElseThrow();
        int trim = length - longest;
        KvCache smaller = model.newCache();
        try (NDManager tmp = model.manager().newSubManager()) {
            NDArray idx = tmp.create(keptIdx.stream().mapToLong(Long::longValue).toArray());
            for (int l = 0; l < cache.numLayers(); l++) {
                smaller.append(l, cut(cache.keys(l), idx, trim), cut(cache.values(l), idx, trim));
            }
        } catch (RuntimeException e) {
            smaller.close();
            throw e;
        }
        smaller.advance(longest, kept.size());
        cache.close();
        cache = smaller;
        length = longest;
        rows.clear();
        rows.addAll(kept);
    }

    private static NDArray cut(NDArray a, NDArray rowIdx, int trim) {
        NDArray r = a.get(new NDIndex("{}", rowIdx));
        return trim == 0 ? r : r.get(new NDIndex(":, :, {}:", trim));
    }

    /** Cached positions (the longest row). */
    int length() {
        return length;
    }

    @Override
    public void close() {
        if (cache != null) {
            cache.close();
            cache = null;
        }
        rows.clear();
        length = 0;
    }
}
