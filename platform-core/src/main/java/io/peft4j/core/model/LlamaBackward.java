package io.peft4j.core.model;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import io.peft4j.api.ForwardContext;
import io.peft4j.core.model.loss.CausalLmLoss;
import io.peft4j.core.model.loss.FusedLinearCrossEntropy;
import java.util.List;

/**
 * The training backward of a {@link LlamaModel} ({@link LlamaModel#causalLmBackward}): forward, causal-LM loss and
 * backward, plain or checkpointed at decoder-layer boundaries, with lm_head and the loss fused
 * ({@link FusedLinearCrossEntropy}) when lm_head is a plain frozen projection.
 *
 * <p>Checkpointed:
 * <pre>
 *   x_0 = embed(ids)                                  recorded (prompt tuning / a trainable embedding get grads)
 *   x_{l+1} = layer_l(x_l)                            l = 0..L-1 without autograd; only x_l is kept
 *   loss = lossScale · CE(lm_head(norm(x_L))), backward   g_L = dloss/dx_L
 *   for l = L-1..0: recompute layer_l(x_l) with autograd, backward of sum(layer_l(x_l) * g_{l+1})
 *                                                     = vector-Jacobian product: adds the layer's parameter
 *                                                       gradients and gives g_l = dloss/dx_l
 *   backward of sum(x_0 * g_0)                        only if prompt-tuning modules prepended virtual tokens
 * </pre>
 */
final class LlamaBackward {
    private final LlamaModel model;

    LlamaBackward(LlamaModel model) {
        this.model = model;
    }

    /** See {@link LlamaModel#causalLmBackward}; arguments already checked there. */
    float run(NDArray inputIds, NDArray attentionMask, NDArray labels, double lossScale, ForwardContext ctx,
              GradientCollector collector, boolean checkpointing, boolean fusedCrossEntropy) {
        LlamaForward pass = new LlamaForward(model, inputIds, attentionMask, null, ctx);
        if (!checkpointing) {
            try (NDScope scope = new NDScope()) {
                return headLossBackward(pass, pass.layersOutput(), labels, lossScale, collector, fusedCrossEntropy);
            } finally {
                pass.releaseMasks();
            }
        }
        List<DecoderLayer> layers = model.layers;
        int n = layers.size();
        NDArray[] inputs = new NDArray[n + 1];
        int seedBase = ctx.training()
                ? ctx.manager().randomInteger(0, Integer.MAX_VALUE / 2, new Shape(), DataType.INT32).getInt() : -1;
        pass.keepMasks = true;
        try (NDScope outer = new NDScope()) {
            NDArray embedded = pass.embed();
            boolean gradMode = JniUtils.isGradMode();
            JniUtils.setGradMode(false);
            try {
                inputs[0] = embedded.stopGradient();
                for (int i = 0; i < n; i++) {
                    inputs[i + 1] = checkpointLayer(pass, layers.get(i), inputs[i], ctx, seedBase);
                }
            } finally {
                JniUtils.setGradMode(gradMode);
            }
            float lossValue;
            NDArray grad;
            try (NDScope head = new NDScope()) {
                NDArray top = gradientLeaf(inputs[n]);
                pass.ctx = ctx;
                lossValue = headLossBackward(pass, top, labels, lossScale, collector, fusedCrossEntropy);
                grad = top.getGradient();
                NDScope.unregister(grad);
            }
            for (int i = n - 1; i >= 0; i--) {
                inputs[i + 1].close();   // the recomputation below rebuilds it with autograd
                try (NDScope layer = new NDScope()) {
                    NDArray in = gradientLeaf(inputs[i]);
                    NDArray out = checkpointLayer(pass, layers.get(i), in, ctx, seedBase);
                    collector.backward(out.mul(grad).sum());
                    grad.close();
                    grad = in.getGradient();
                    NDScope.unregister(grad);
                }
            }
            if (pass.embeddingModules > 0) {   // prompt tuning: its virtual tokens get their gradient here
                collector.backward(embedded.mul(grad).sum());
            }
            grad.close();
            return lossValue;
        } finally {
            pass.releaseMasks();
        }
    }

    /** Norm, lm_head and the scaled loss over the last layer's output {@code top}, with backward; the loss value. */
    private float headLossBackward(LlamaForward pass, NDArray top, NDArray labels, double lossScale,
                                   GradientCollector collector, boolean fusedCrossEntropy) {
        NDArray h = pass.hidden(top);
        AdaptableLinear lmHead = model.lmHead;
        if (fusedCrossEntropy && plainHead(pass.active)) {
            FusedLinearCrossEntropy.Result r = FusedLinearCrossEntropy.compute(h, lmHead.rawWeight(), labels, lossScale,
                    FusedLinearCrossEntropy.defaultChunkRows(model.config.vocabSize()));
            collector.backward(h.mul(r.gradHidden()).sum());
            r.gradHidden().close();
            return (float) (r.nllSum() * lossScale);
        }
        return CausalLmLoss.backward(lmHead.forward(h, pass.active, pass.ctx), labels, lossScale, collector);
    }

    /** lm_head is a frozen float projection without bias and without an unmerged active adapter. */
    private boolean plainHead(List<String> active) {
        AdaptableLinear lmHead = model.lmHead;
        if (lmHead.quantized() || lmHead.bias().isPresent() || lmHead.rawWeight().hasGradient()) {
            return false;   // the fused path writes no gradient for lm_head's own weight (full fine-tuning)
        }
        for (String name : active) {
            if (lmHead.adapters().containsKey(name) && !lmHead.mergedAdapters().contains(name)) {
                return false;
            }
        }
        return true;
    }

    /** Layer {@code l} in its own scope and forward context, with dropout re-seeded for this layer. */
    private static NDArray checkpointLayer(LlamaForward pass, DecoderLayer l, NDArray x, ForwardContext ctx,
                                           int seedBase) {
        if (seedBase >= 0) {
            Engine.getInstance().setRandomSeed(seedBase + l.index);
        }
        // A fresh context per layer: modules may cache per-pass values by context (prefix tuning's projected
        // table), which must be rebuilt in the recomputation, with autograd.
        pass.ctx = ctx.getClass() == PlatformForwardContext.class
                ? new PlatformForwardContext(ctx.training(), ctx.manager()) : ctx;
        NDArray y;
        try (NDScope scope = new NDScope()) {
            y = pass.layer(l, x);
            NDScope.unregister(y);
        }
        NDScope.register(y);   // the caller's scope owns the output
        return y;
    }

    /** A view of {@code x} that is a leaf of the autograd graph and collects its gradient. */
    private static NDArray gradientLeaf(NDArray x) {
        NDArray leaf = x.stopGradient();
        leaf.setRequiresGradient(true);
        return leaf;
    }
}
