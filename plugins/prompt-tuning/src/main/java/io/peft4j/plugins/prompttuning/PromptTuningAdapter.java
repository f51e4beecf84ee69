package io.peft4j.plugins.prompttuning;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.Adapter;
import io.peft4j.api.AdapterConfig;
import io.peft4j.api.AdapterContext;
import io.peft4j.api.AdapterDescriptor;
import io.peft4j.api.AdapterInstance;
import io.peft4j.api.ConfigException;
import io.peft4j.api.ModelShape;
import io.peft4j.api.SiteInfo;
import io.peft4j.api.SiteKind;
import java.util.List;
import java.util.Set;
import java.util.function.Function;
import org.pf4j.Extension;

/**
 * Prompt tuning: P trainable virtual-token embeddings prepended to the input (see {@link PromptEmbeddingModule}).
 * Initialised from {@code N(0, 1)} ({@code RANDOM}) or from the base model's embeddings of a text ({@code TEXT}).
 * Saved in PEFT's format: one tensor {@code prompt_embeddings [P, hidden]}.
 */
@Extension
public final class PromptTuningAdapter implements Adapter {
    public static final String METHOD = "prompt_tuning";

    @Override
    public AdapterDescriptor descriptor() {
        return new AdapterDescriptor(METHOD, "PROMPT_TUNING", PromptTuningConfig.class,
                Set.of(SiteKind.INPUT_EMBEDDING),
                "Prompt tuning: trainable virtual-token embeddings prepended to the input (PEFT PROMPT_TUNING format)");
    }

    @Override
    public void validate(AdapterConfig config, List<SiteInfo> sites, ModelShape shape) {
        PromptTuningConfig c = (PromptTuningConfig) config;
        if (c.tokenDim() != null && c.tokenDim() != shape.hiddenSize()) {
            throw new ConfigException("token_dim", c.tokenDim() + " does not match the model's hidden_size "
                    + shape.hiddenSize());
        }
        if (sites.size() != 1) {
            throw new ConfigException("", "prompt tuning needs exactly one input-embedding site, the model has "
                    + sites.size());
        }
        if (c.numVirtualTokens() >= shape.maxPositionEmbeddings()) {
            throw new ConfigException("num_virtual_tokens", c.numVirtualTokens() + " virtual tokens leave no room "
                    + "in the model's context (max_position_embeddings = " + shape.maxPositionEmbeddings() + ")");
        }
    }

    @Override
    public AdapterInstance create(String name, AdapterConfig config, List<SiteInfo> sites, AdapterContext ctx) {
        PromptTuningConfig c = (PromptTuningConfig) config;
        ModelShape shape = ctx.modelShape();
        validate(c, sites, shape);
        int p = c.numVirtualTokens();
        int hidden = shape.hiddenSize();
        NDManager m = ctx.manager();
        NDArray table;
        if ("TEXT".equals(c.promptTuningInit()) && !c.inferenceMode()) {
            long[] ids = initTokenIds(c, ctx);
            NDArray rows = ctx.embed(ids);
            table = rows.toType(DataType.FLOAT32, true);   // a copy: the embedding matrix itself stays frozen
            table.attach(m);
            rows.close();
        } else {
            table = m.randomNormal(0f, 1f, new Shape(p, hidden), DataType.FLOAT32);
        }
        PromptEmbeddingModule module = new PromptEmbeddingModule(sites.get(0), table);
        return new PromptTuningInstance(name, c.completed(hidden, shape.numAttentionHeads(), shape.numLayers()),
                module);
    }

    /**
     * The text's token ids repeated until there are P and cut to P (PEFT's rule). Fails if the text has more than
     * P tokens (PEFT truncates silently) or none.
     */
    static long[] initTokenIds(PromptTuningConfig c, AdapterContext ctx) {
        Function<String, long[]> tok = ctx.tokenizer().orElseThrow(() -> new ConfigException(
                "prompt_tuning_init", "TEXT needs the base model's tokenizer, and none is loaded"));
        long[] ids = tok.apply(c.promptTuningInitText());
        int p = c.numVirtualTokens();
        if (ids.length == 0) {
            throw new ConfigException("prompt_tuning_init_text", "tokenizes to no tokens");
        }
        if (ids.length > p) {
            throw new ConfigException("prompt_tuning_init_text", "tokenizes to " + ids.length + " tokens, more than "
                    + "num_virtual_tokens = " + p + "; shorten the text or raise num_virtual_tokens to at least "
                    + ids.length + " (Hugging Face PEFT would silently drop the extra tokens)");
        }
        long[] out = new long[p];
        for (int i = 0; i < p; i++) {
            out[i] = ids[i % ids.length];
        }
        return out;
    }
}
