package io.peft4j.core.peft;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import io.peft4j.api.ModelShape;
import io.peft4j.api.SiteInfo;
import io.peft4j.api.SiteModule;
import io.peft4j.core.model.AdaptableLinear;
import io.peft4j.core.model.LlamaModel;
import io.peft4j.core.model.TextTokenizer;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/** {@link AdapterHost} over a loaded {@link LlamaModel} and its tokenizer. */
public final class LlamaAdapterHost implements AdapterHost {
    private final LlamaModel model;
    private final TextTokenizer tokenizer;

    public LlamaAdapterHost(LlamaModel model, TextTokenizer tokenizer) {
        this.model = model;
        this.tokenizer = tokenizer;
    }

    public LlamaModel model() {
        return model;
    }

    @Override
    public List<SiteInfo> sites() {
        return model.sites();
    }

    @Override
    public AdaptableLinear linear(String path) {
        return model.linear(path);
    }

    @Override
    public String architecture() {
        return model.config().modelType();
    }

    @Override
    public ModelShape shape() {
        return model.shape();
    }

    @Override
    public NDManager manager() {
        return model.manager();
    }

    @Override
    public void setActiveAdapters(List<String> names) {
        model.setActiveAdapters(names);
    }

    @Override
    public void attachSiteModule(String adapterName, SiteModule module) {
        model.attach(adapterName, module);
    }

    @Override
    public void detachSiteModules(String adapterName) {
        model.hooks().detachAll(adapterName);
    }

    @Override
    public NDArray embed(long[] tokenIds) {
        NDArray table = model.baseTensors(false).get("model.embed_tokens.weight");
        try (NDArray idx = model.manager().create(tokenIds)) {
            return table.get(new NDIndex("{}", idx));
        }
    }

    @Override
    public Optional<Function<String, long[]>> tokenizer() {
        return tokenizer == null ? Optional.empty() : Optional.of(t -> tokenizer.encode(t, false));
    }
}
