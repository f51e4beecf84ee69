package io.peft4j.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;

/**
 * Per-layer key/value cache for incremental decoding. Layer {@code l} holds keys and values
 * {@code [batch, numKeyValueHeads, length, headDim]} (keys after RoPE), in the cache's own manager.
 *
 * <p>Protocol (driven by the model): at the start of a pass {@link #checkRoom} with the new token count; per layer
 * {@link #append} returns the full keys/values including the new ones; at the end {@link #advance}. Virtual tokens
 * from prompt-tuning modules are stored like real tokens and counted in {@link #virtualTokens()}, so later passes
 * know to extend the caller's attention mask by that many visible positions. Attention-KV prefixes (prefix tuning)
 * are not stored: they are prepended afresh on every pass.
 */
public class KvCache implements AutoCloseable {
    private final int numLayers;
    private final int maxLength;
    private final NDManager manager;
    private final NDArray[] keys;
    private final NDArray[] values;
    private int length;
    private int virtualTokens;
    private long batch = -1;

    /**
     * @param numLayers decoder layers of the model
     * @param maxLength the most positions (virtual tokens included) the cache may hold, normally
     *                  {@code max_position_embeddings}
     * @param parent    manager to create the cache's sub-manager from (e.g. the model's)
     */
    public KvCache(int numLayers, int maxLength, NDManager parent) {
        this.numLayers = numLayers;
        this.maxLength = maxLength;
        this.manager = parent.newSubManager();
        this.keys = new NDArray[numLayers];
        this.values = new NDArray[numLayers];
    }

    /** Positions stored (including virtual tokens). */
    public int length() {
        return length;
    }

    public int maxLength() {
        return maxLength;
    }

    /** Prompt-tuning virtual tokens stored at the front of the cache. */
    public int virtualTokens() {
        return virtualTokens;
    }

    void setVirtualTokens(int n) {
        virtualTokens = n;
    }

    /** Batch size of the cached sequences, or -1 while empty. */
    public long batchSize() {
        return batch;
    }

    /** Fails if {@code newTokens} more positions would exceed {@link #maxLength()}. */
    public void checkRoom(int newTokens, long batchSize) {
        if (length + newTokens > maxLength) {
            throw new IllegalArgumentException("sequence too long: the KV cache holds " + length + " positions and "
                    + newTokens + " more were given, exceeding max_position_embeddings = " + maxLength);
        }
        if (batch >= 0 && batchSize != batch) {
            throw new IllegalArgumentException("KV cache holds a batch of " + batch + " sequences, got " + batchSize);
        }
    }

    /** Cached keys of a layer, or null while empty. */
    public NDArray keys(int layer) {
        return keys[layer];
    }

    /** Cached values of a layer, or null while empty. */
    public NDArray values(int layer) {
        return values[layer];
    }

    /**
     * Appends this pass's keys and values of a layer and returns the full ones {@code [k, v]} (past + new).
     * The stored arrays are removed from any open {@link NDScope} and owned by the cache.
     */
    public NDList append(int layer, NDArray k, NDArray v) {
        NDArray fullK = keys[layer] == null ? k : keys[layer].concat(k, 2);
        NDArray fullV = values[layer] == null ? v : values[layer].concat(v, 2);
        keep(fullK);
        keep(fullV);
        if (keys[layer] != null) {
            keys[layer].close();
            values[layer].close();
        }
        keys[layer] = fullK;
        values[layer] = fullV;
        return new NDList(fullK, fullV);
    }

    private void keep(NDArray a) {
        NDScope.unregister(a);
        a.attach(manager);
    }

    /** Marks {@code n} positions as added, after every layer has appended them. */
    public void advance(int n, long batchSize) {
        length += n;
        batch = batchSize;
    }

    public int numLayers() {
        return numLayers;
    }

    /** Empties the cache, releasing its arrays. */
    public void clear() {
        for (int i = 0; i < numLayers; i++) {
            if (keys[i] != null) {
                keys[i].close();
                values[i].close();
                keys[i] = null;
                values[i] = null;
            }
        }
        length = 0;
        virtualTokens = 0;
        batch = -1;
    }

    @Override
    public void close() {
        clear();
        manager.close();
    }
}
