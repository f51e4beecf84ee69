package io.peft4j.core.model;

import ai.djl.ndarray.NDArray;
import java.util.Map;

/** The tensors of one decoder layer (its math is {@link LlamaForward#layer}). */
final class DecoderLayer {
    final int index;
    final String attnPath;
    final String mlpPath;
    final NDArray inputNorm;
    final NDArray postNorm;
    final AdaptableLinear q;
    final AdaptableLinear k;
    final AdaptableLinear v;
    final AdaptableLinear o;
    final AdaptableLinear gate;
    final AdaptableLinear up;
    final AdaptableLinear down;

    DecoderLayer(int index, NDArray inputNorm, NDArray postNorm, Map<String, AdaptableLinear> lin) {
        this.index = index;
        this.attnPath = LlamaSiteLayout.layer(index) + ".self_attn";
        this.mlpPath = LlamaSiteLayout.layer(index) + ".mlp";
        this.inputNorm = inputNorm;
        this.postNorm = postNorm;
        this.q = lin.get(attnPath + ".q_proj");
        this.k = lin.get(attnPath + ".k_proj");
        this.v = lin.get(attnPath + ".v_proj");
        this.o = lin.get(attnPath + ".o_proj");
        this.gate = lin.get(mlpPath + ".gate_proj");
        this.up = lin.get(mlpPath + ".up_proj");
        this.down = lin.get(mlpPath + ".down_proj");
    }
}
