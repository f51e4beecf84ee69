package io.peft4j.plugins.prefixtuning;

import ai.djl.ndarray.NDManager;
import io.peft4j.api.Adapter;
import io.peft4j.api.AdapterConfig;
import io.peft4j.api.AdapterContext;
import io.peft4j.api.AdapterDescriptor;
import io.peft4j.api.AdapterInstance;
import io.peft4j.api.ConfigException;
import io.peft4j.api.ModelShape;
import io.peft4j.api.SiteInfo;
import io.peft4j.api.SiteKind;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.pf4j.Extension;

/**
 * Prefix tuning (Li &amp; Liang 2021) as Hugging Face PEFT implements it for decoder-only models: P trainable
 * key/value vectors per layer and key/value head, prepended to every attention layer's keys and values; the real
 * tokens' positions start at P (PEFT passes the prefix as {@code past_key_values}). See {@link PrefixEncoder} for the
 * layout and {@link PrefixTuningConfig} for the options.
 */
@Extension
public final class PrefixTuningAdapter implements Adapter {
    public static final String METHOD = "prefix_tuning";

    @Override
    public AdapterDescriptor descriptor() {
        return new AdapterDescriptor(METHOD, "PREFIX_TUNING", PrefixTuningConfig.class,
                Set.of(SiteKind.ATTENTION_KV),
                "Prefix tuning: trainable key/value prefixes in every attention layer, optional reparameterisation "
                + "MLP folded away on save (PEFT PREFIX_TUNING format)");
    }

    @Override
    public void validate(AdapterConfig config, List<SiteInfo> sites, ModelShape shape) {
        PrefixTuningConfig c = ((PrefixTuningConfig) config).completed(shape);
        int kvDim = shape.numKeyValueHeads() * shape.headDim();
        if (c.tokenDim() != kvDim) {
            throw new ConfigException("token_dim", "gives a key/value width of " + c.tokenDim() + " (token_dim / "
                    + "num_attention_heads * num_key_value_heads) but the model's is " + kvDim
                    + " (num_key_value_heads = " + shape.numKeyValueHeads() + " x head_dim = " + shape.headDim()
                    + "); leave token_dim and num_attention_heads unset");
        }
        if (c.numLayers() != shape.numLayers() || sites.size() != shape.numLayers()) {
            throw new ConfigException("num_layers", c.numLayers() + " does not match the model's "
                    + shape.numLayers() + " attention layers");
        }
        if (c.numVirtualTokens() >= shape.maxPositionEmbeddings()) {
            throw new ConfigException("num_virtual_tokens", c.numVirtualTokens() + " prefix tokens leave no room "
                    + "in the model's context (max_position_embeddings = " + shape.maxPositionEmbeddings() + ")");
        }
    }

    @Override
    public AdapterInstance create(String name, AdapterConfig config, List<SiteInfo> sites, AdapterContext ctx) {
        ModelShape shape = ctx.modelShape();
        validate(config, sites, shape);
        PrefixTuningConfig c = ((PrefixTuningConfig) config).completed(shape);
        NDManager m = ctx.manager();
        int p = c.numVirtualTokens();
        PrefixEncoder encoder = c.projected()
                ? PrefixEncoder.projected(ctx.linearAlgebra(), m, p, c.numLayers(), shape.numKeyValueHeads(), shape.headDim(),
                        c.encoderHiddenSize())
                : PrefixEncoder.plain(ctx.linearAlgebra(), m, p, c.numLayers(), shape.numKeyValueHeads(), shape.headDim());
        int first = sites.stream().mapToInt(SiteInfo::layerIndex).min().orElse(0);
        Map<String, PrefixLayerModule> modules = new LinkedHashMap<>();
        for (SiteInfo s : sites) {
            modules.put(s.path(), new PrefixLayerModule(s, encoder, s.layerIndex() == first));
        }
        return new PrefixTuningInstance(name, c, encoder, modules);
    }
}
