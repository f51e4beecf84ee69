package io.peft4j.core.model;

import io.peft4j.api.SiteInfo;
import io.peft4j.api.SiteKind;
import java.util.ArrayList;
import java.util.List;

/**
 * The attachment sites a Llama-architecture model has, computed from {@code config.json} alone: the one list of
 * sites. A run configuration is validated against it before any weight is read, and {@link LlamaWeightsLoader}
 * reads exactly the tensors it names (so {@link LlamaModel#sites()} is this list).
 *
 * <p>Order: {@code model.embed_tokens} (INPUT_EMBEDDING); per layer {@code N} the linears {@code q_proj, k_proj,
 * v_proj, o_proj, gate_proj, up_proj, down_proj} (LINEAR), then {@code self_attn} and {@code mlp}
 * (SUBLAYER_OUTPUT) and {@code self_attn} (ATTENTION_KV); last {@code lm_head} (LINEAR, never a bias).
 *
 * <p>Biases as transformers builds the modules: {@code attention_bias} gives q/k/v/o one ({@code LlamaAttention});
 * {@code model_type: qwen2} always has q/k/v biases and none on o_proj ({@code Qwen2Attention}, no config flag);
 * {@code mlp_bias} gives gate/up/down one.
 */
public final class LlamaSiteLayout {
    /** The input embedding's path. */
    public static final String EMBED = "model.embed_tokens";
    /** The output projection's path. */
    public static final String LM_HEAD = "lm_head";

    private LlamaSiteLayout() {
    }

    /** The path prefix of decoder layer {@code i}: {@code model.layers.i}. */
    public static String layer(int i) {
        return "model.layers." + i;
    }

    public static List<SiteInfo> of(LlamaConfig c) {
        int h = c.hiddenSize();
        int qOut = c.numAttentionHeads() * c.headDim();
        int kvOut = c.numKeyValueHeads() * c.headDim();
        int inter = c.intermediateSize();
        boolean qkvBias = c.attentionBias() || "qwen2".equals(c.modelType());
        List<SiteInfo> sites = new ArrayList<>();
        sites.add(new SiteInfo(EMBED, SiteKind.INPUT_EMBEDDING, h, h, -1, false));
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            String p = layer(i);
            sites.add(new SiteInfo(p + ".self_attn.q_proj", SiteKind.LINEAR, h, qOut, i, qkvBias));
            sites.add(new SiteInfo(p + ".self_attn.k_proj", SiteKind.LINEAR, h, kvOut, i, qkvBias));
            sites.add(new SiteInfo(p + ".self_attn.v_proj", SiteKind.LINEAR, h, kvOut, i, qkvBias));
            sites.add(new SiteInfo(p + ".self_attn.o_proj", SiteKind.LINEAR, qOut, h, i, c.attentionBias()));
            sites.add(new SiteInfo(p + ".mlp.gate_proj", SiteKind.LINEAR, h, inter, i, c.mlpBias()));
            sites.add(new SiteInfo(p + ".mlp.up_proj", SiteKind.LINEAR, h, inter, i, c.mlpBias()));
            sites.add(new SiteInfo(p + ".mlp.down_proj", SiteKind.LINEAR, inter, h, i, c.mlpBias()));
            sites.add(new SiteInfo(p + ".self_attn", SiteKind.SUBLAYER_OUTPUT, h, h, i, false));
            sites.add(new SiteInfo(p + ".mlp", SiteKind.SUBLAYER_OUTPUT, h, h, i, false));
            sites.add(new SiteInfo(p + ".self_attn", SiteKind.ATTENTION_KV, h, kvOut, i, false));
        }
        sites.add(new SiteInfo(LM_HEAD, SiteKind.LINEAR, h, c.vocabSize(), -1, false));
        return sites;
    }
}
