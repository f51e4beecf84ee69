package io.peft4j.plugins.prefixtuning;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.ForwardContext;
import io.peft4j.api.LinearAlgebra;

/**
 * PEFT's {@code PrefixEncoder}: produces the prefix table {@code T [P, L·2·d]} ({@code d = token_dim}, the
 * key/value width), either directly as a trainable table or, with {@code prefix_projection} in training, as
 * {@code T = W2 · tanh(W1 · E + b1) + b2} from a trainable {@code E [P, d]} ({@code W1 [enc, d]},
 * {@code W2 [L·2·d, enc]}). Reading {@code T} as {@code [P, L·2, kv_heads, head_dim]}, layer {@code l}'s keys are
 * column {@code 2l} and its values column {@code 2l + 1} (PEFT's {@code view(...).permute([2, 0, 3, 1, 4])
 * .split(2)}).
 */
final class PrefixEncoder {
    private final int numVirtualTokens;
    private final int numLayers;
    private final int kvHeads;
    private final int headDim;
    final NDArray embedding;      // [P, L·2·d] plain, or [P, d] projected
    final NDArray w1;             // projected only
    final NDArray b1;
    final NDArray w2;
    final NDArray b2;
    private final LinearAlgebra linearAlgebra;
    private NDArray folded;       // last table handed out by fold(), owned here
    // The projected table is computed once per forward pass, by the first layer, and reused by the others.
    private NDArray passTable;
    private ForwardContext passCtx;

    private PrefixEncoder(LinearAlgebra la, int p, int layers, int kvHeads, int headDim, NDArray embedding,
                          NDArray w1, NDArray b1, NDArray w2, NDArray b2) {
        this.linearAlgebra = la;
        this.numVirtualTokens = p;
        this.numLayers = layers;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.embedding = embedding;
        this.w1 = w1;
        this.b1 = b1;
        this.w2 = w2;
        this.b2 = b2;
    }

    /** A plain table, {@code N(0, 1)} like {@code nn.Embedding}. */
    static PrefixEncoder plain(LinearAlgebra la, NDManager m, int p, int layers, int kvHeads, int headDim) {
        int width = layers * 2 * kvHeads * headDim;
        return new PrefixEncoder(la, p, layers, kvHeads, headDim,
                m.randomNormal(0f, 1f, new Shape(p, width), DataType.FLOAT32), null, null, null, null);
    }

    /** The reparameterised encoder; linears start as torch's {@code nn.Linear} default, {@code U(±1/sqrt(fan_in))}. */
    static PrefixEncoder projected(LinearAlgebra la, NDManager m, int p, int layers, int kvHeads, int headDim,
                                   int enc) {
        int d = kvHeads * headDim;
        int width = layers * 2 * d;
        float a1 = (float) (1 / Math.sqrt(d));
        float a2 = (float) (1 / Math.sqrt(enc));
        return new PrefixEncoder(la, p, layers, kvHeads, headDim,
                m.randomNormal(0f, 1f, new Shape(p, d), DataType.FLOAT32),
                m.randomUniform(-a1, a1, new Shape(enc, d), DataType.FLOAT32),
                m.randomUniform(-a1, a1, new Shape(enc), DataType.FLOAT32),
                m.randomUniform(-a2, a2, new Shape(width, enc), DataType.FLOAT32),
                m.randomUniform(-a2, a2, new Shape(width), DataType.FLOAT32));
    }

    boolean isProjected() {
        return w1 != null;
    }

    int numVirtualTokens() {
        return numVirtualTokens;
    }

    int numLayers() {
        return numLayers;
    }

    /** {@code [P, L·2·d]} in the autograd graph of this pass. */
    NDArray table(ForwardContext ctx, boolean firstLayer) {
        if (!isProjected()) {
            return embedding;
        }
        // isReleased: the platform closes what a layer created when the layer returns
        if (firstLayer || passCtx != ctx || passTable == null || passTable.isReleased()) {
            passTable = project(embedding);
            passCtx = ctx;
        }
        return passTable;
    }

    private NDArray project(NDArray e) {
        NDArray h = linearAlgebra.linear(e, w1, b1).tanh();
        return linearAlgebra.linear(h, w2, b2);
    }

    /** Keys and values of one layer, each {@code [batch, kv_heads, P, head_dim]}. */
    NDArray[] layerKeyValues(NDArray table, int layer, int batch) {
        NDArray t = table.reshape(numVirtualTokens, numLayers * 2L, kvHeads, headDim);
        Shape out = new Shape(batch, kvHeads, numVirtualTokens, headDim);
        NDArray k = t.get(":, {}", 2 * layer).transpose(1, 0, 2).expandDims(0).broadcast(out);
        NDArray v = t.get(":, {}", 2 * layer + 1).transpose(1, 0, 2).expandDims(0).broadcast(out);
        return new NDArray[] {k, v};
    }

    /**
     * The table PEFT saves as {@code prompt_embeddings}: the plain table, or the MLP's output for the current
     * weights (detached). The returned array stays valid until the next call.
     */
    NDArray fold() {
        if (!isProjected()) {
            return embedding;
        }
        NDArray t = project(embedding).stopGradient();
        t.attach(embedding.getManager());
        if (folded != null) {
            folded.close();
        }
        folded = t;
        return t;
    }
}
