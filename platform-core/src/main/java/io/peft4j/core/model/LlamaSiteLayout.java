package io.peft4j.core.model;

import io.peft4j.api.SiteInfo;
import io.peft4j.api.SiteKind;
import java.util.ArrayList;
import java.util.List;

/**
 * The attachment sites a Llama-architecture model has, computed from {@code config.json} alone, so that a run
 * configuration can be validated before any weight is read. Same paths and order as {@link LlamaModel#sites()}.
 */
public final class LlamaSiteLayout {
    private LlamaSiteLayout() {
    }

    public static List<SiteInfo> of(LlamaConfig c) {
        int h = c.hiddenSize();
        int qOut = c.numAttentionHeads() * c.headDim();
        int kvOut = c.numKeyValueHeads() * c.headDim();
        int inter = c.intermediateSize();
        List<SiteInfo> sites = new ArrayList<>();
        sites.add(new SiteInfo("model.embed_tokens", SiteKind.INPUT_EMBEDDING, h, h, -1, false));
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            String p = "model.layers." + i;
            String[][] linears = {
                {".self_attn.q_proj", "" + h, "" + qOut}, {".self_attn.k_proj", "" + h, "" + kvOut},
                {".self_attn.v_proj", "" + h, "" + kvOut}, {".self_attn.o_proj", "" + qOut, "" + h},
                {".mlp.gate_proj", "" + h, "" + inter}, {".mlp.up_proj", "" + h, "" + inter},
                {".mlp.down_proj", "" + inter, "" + h}};
            for (String[] l : linears) {
                boolean bias = l[0].contains("self_attn") ? c.attentionBias() : c.mlpBias();
                sites.add(new SiteInfo(p + l[0], SiteKind.LINEAR, Integer.parseInt(l[1]), Integer.parseInt(l[2]), i,
                        bias));
            }
            sites.add(new SiteInfo(p + ".self_attn", SiteKind.SUBLAYER_OUTPUT, h, h, i, false));
            sites.add(new SiteInfo(p + ".mlp", SiteKind.SUBLAYER_OUTPUT, h, h, i, false));
            sites.add(new SiteInfo(p + ".self_attn", SiteKind.ATTENTION_KV, h, kvOut, i, false));
        }
        sites.add(new SiteInfo("lm_head", SiteKind.LINEAR, h, c.vocabSize(), -1, false));
        return sites;
    }
}
