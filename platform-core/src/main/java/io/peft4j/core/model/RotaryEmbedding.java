package io.peft4j.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;

/**
 * Rotary position embedding in the Hugging Face "rotate half" form:
 * {@code rope(x, p) = x * cos(p θ) + rotate_half(x) * sin(p θ)} with {@code rotate_half([x1, x2]) = [-x2, x1]}
 * (halves of the head dimension) and {@code θ = cat(inv_freq, inv_freq)}.
 *
 * <p>cos/sin tables {@code [capacity, headDim]} are computed once in float32 (angles {@code p * inv_freq} rounded
 * to float32 as transformers does) and grown on demand up to the needed length. A second pair of tables is scaled by
 * the attention scale {@code 1/sqrt(headDim)}, so the query's scaling costs no extra op.
 * {@code rotate_half} is a product with a fixed signed permutation matrix (one op, exact).
 */
final class RotaryEmbedding {
    private final float[] invFreq;
    private final int headDim;
    private final float qScale;
    private final NDManager manager;
    private final NDArray rotateHalf;   // [headDim, headDim]
    private int capacity;
    private NDArray cos;
    private NDArray sin;
    private NDArray cosQ;
    private NDArray sinQ;

    RotaryEmbedding(LlamaConfig config, NDManager manager) {
        this.invFreq = config.ropeInverseFrequencies();
        this.headDim = config.headDim();
        this.qScale = (float) (1.0 / Math.sqrt(config.headDim()));
        this.manager = manager;
        int half = headDim / 2;
        float[] r = new float[headDim * headDim];
        for (int j = 0; j < half; j++) {
            r[(j + half) * headDim + j] = -1f;       // out[j] = -x[j + half]
            r[j * headDim + (j + half)] = 1f;        // out[j + half] = x[j]
        }
        this.rotateHalf = keep(manager.create(r, new Shape(headDim, headDim)));
    }

    /** Per-pass tables: {@code cos, sin} for keys, {@code cosQ, sinQ} scaled for queries. */
    record Tables(NDArray cos, NDArray sin, NDArray cosQ, NDArray sinQ) {
    }

    /** Tables {@code [len, headDim]} for the contiguous positions {@code start .. start+len-1}. */
    Tables range(int start, int len) {
        ensure(start + len);
        NDIndex idx = new NDIndex("{}:{}", start, start + len);
        return new Tables(cos.get(idx), sin.get(idx), cosQ.get(idx), sinQ.get(idx));
    }

    /**
     * Tables {@code [batch, 1, seq, headDim]} for per-row positions {@code [batch, seq]} (int64).
     *
     * @param maxPosition an upper bound of the positions (exclusive)
     */
    Tables gather(NDArray positions, int maxPosition) {
        ensure(maxPosition);
        NDIndex idx = new NDIndex("{}", positions);
        return new Tables(cos.get(idx).expandDims(1), sin.get(idx).expandDims(1), cosQ.get(idx).expandDims(1),
                sinQ.get(idx).expandDims(1));
    }

    /** {@code x * cos + rotate_half(x) * sin}; x is {@code [..., seq, headDim]}. */
    NDArray apply(NDArray x, NDArray c, NDArray s) {
        return x.mul(c).add(x.matMul(rotateHalf).mul(s));
    }

    private void ensure(int needed) {
        if (needed <= capacity) {
            return;
        }
        int cap = Math.max(needed, Math.max(64, capacity * 2));
        int half = headDim / 2;
        float[] c = new float[cap * headDim];
        float[] s = new float[cap * headDim];
        float[] cq = new float[cap * headDim];
        float[] sq = new float[cap * headDim];
        for (int p = 0; p < cap; p++) {
            for (int i = 0; i < half; i++) {
                float angle = (float) p * invFreq[i];   // float32 product, as torch computes freqs
                float cv = (float) Math.cos(angle);
                float sv = (float) Math.sin(angle);
                int a = p * headDim + i;
                int b = a + half;
                c[a] = cv;
                c[b] = cv;
                s[a] = sv;
                s[b] = sv;
                cq[a] = cv * qScale;
                cq[b] = cv * qScale;
                sq[a] = sv * qScale;
                sq[b] = sv * qScale;
            }
        }
        close();
        Shape shape = new Shape(cap, headDim);
        cos = keep(manager.create(c, shape));
        sin = keep(manager.create(s, shape));
        cosQ = keep(manager.create(cq, shape));
        sinQ = keep(manager.create(sq, shape));
        capacity = cap;
    }

    // Tables may be built during a forward pass inside an NDScope; they belong to the model, not the pass.
    private static NDArray keep(NDArray a) {
        NDScope.unregister(a);
        return a;
    }

    private void close() {
        if (cos != null) {
            cos.close();
            sin.close();
            cosQ.close();
            sinQ.close();
        }
    }

    void release() {
        close();
        rotateHalf.close();
    }
}
