package io.peft4j.core.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.ForwardContext;
import io.peft4j.api.ModelShape;
import io.peft4j.api.ParamGroup;
import io.peft4j.api.ParamRole;
import io.peft4j.api.Parameter;
import io.peft4j.core.model.CausalLM;
import io.peft4j.core.model.KvCache;
import java.util.List;

/**
 * A small real model for trainer tests: one-hot embedding, a frozen linear with a LoRA-style trainable update and
 * dropout, and a trainable LM head with bias. {@code logits = (h + tanh(h W^T + (drop(h) A^T) B^T)) Wh^T + b}.
 */
final class TinyLm implements CausalLM {
    static final int VOCAB = 24;
    static final int HIDDEN = 16;
    static final int RANK = 4;

    private final NDManager manager;
    private final NDArray emb;
    private final NDArray w;
    final Parameter a;
    final Parameter b;
    final Parameter head;
    final Parameter headBias;

    TinyLm(int seed) {
        manager = NDManager.newBaseManager();
        Engine.getInstance().setRandomSeed(seed);
        emb = manager.randomNormal(new Shape(VOCAB, HIDDEN));
        w = manager.randomNormal(0f, 0.3f, new Shape(HIDDEN, HIDDEN), ai.djl.ndarray.types.DataType.FLOAT32);
        a = new Parameter("lora_A", manager.randomNormal(0f, 0.3f, new Shape(RANK, HIDDEN),
                ai.djl.ndarray.types.DataType.FLOAT32), ParamRole.DOWN, true);
        b = new Parameter("lora_B", manager.zeros(new Shape(HIDDEN, RANK)), ParamRole.UP, true);
        head = new Parameter("head", manager.randomNormal(0f, 0.2f, new Shape(VOCAB, HIDDEN),
                ai.djl.ndarray.types.DataType.FLOAT32), ParamRole.DENSE, true);
        headBias = new Parameter("head_bias", manager.zeros(new Shape(VOCAB)), ParamRole.BIAS, true);
    }

    List<ParamGroup> groups(double lr) {
        return List.of(new ParamGroup("decay", lr, 0.01, List.of(a, b, head)),
                new ParamGroup("no_decay", lr, 0.0, List.of(headBias)));
    }

    @Override
    public NDArray forward(NDArray inputIds, NDArray attentionMask, KvCache cache, ForwardContext ctx) {
        NDArray h = inputIds.oneHot(VOCAB).matMul(emb);
        NDArray x = ctx.dropout(h, 0.1f);
        NDArray z = h.matMul(w.transpose()).add(x.matMul(a.value().transpose()).matMul(b.value().transpose())).tanh();
        return h.add(z).matMul(head.value().transpose()).add(headBias.value());
    }

    @Override
    public ModelShape shape() {
        return new ModelShape(HIDDEN, 1, 1, 1, HIDDEN, VOCAB, 64);
    }

    @Override
    public NDManager manager() {
        return manager;
    }

    void close() {
        manager.close();
    }
}
