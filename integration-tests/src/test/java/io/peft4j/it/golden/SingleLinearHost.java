package io.peft4j.it.golden;

import io.peft4j.plugins.testkit.GoldenCase;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.peft4j.api.ModelShape;
import io.peft4j.api.SiteInfo;
import io.peft4j.api.SiteKind;
import io.peft4j.api.SiteModule;
import io.peft4j.core.model.AdaptableLinear;
import io.peft4j.core.peft.AdapterHost;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * A host made of real {@link AdaptableLinear} layers with the golden case's weights, so cases run through the same
 * attach / forward / merge path as the Llama model.
 */
final class SingleLinearHost implements AdapterHost {
    private final NDManager manager;
    private final Map<String, AdaptableLinear> layers = new LinkedHashMap<>();
    private List<String> active = List.of();

    SingleLinearHost(NDManager manager) {
        this.manager = manager;
    }

    AdaptableLinear add(String path, NDArray weight, NDArray bias) {
        long[] s = weight.getShape().getShape();
        SiteInfo site = new SiteInfo(path, SiteKind.LINEAR, (int) s[1], (int) s[0], layerOf(path), bias != null);
        AdaptableLinear l = new AdaptableLinear(site, manager, weight, bias);
        layers.put(path, l);
        return l;
    }

    private static int layerOf(String path) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\.(\\d+)\\.").matcher(path);
        return m.find() ? Integer.parseInt(m.group(1)) : -1;
    }

    List<String> active() {
        return active;
    }

    @Override
    public List<SiteInfo> sites() {
        return layers.values().stream().map(AdaptableLinear::site).toList();
    }

    @Override
    public AdaptableLinear linear(String path) {
        return layers.get(path);
    }

    @Override
    public ModelShape shape() {
        return new ModelShape(16, 1, 1, 1, 16, 32, 64);
    }

    @Override
    public NDManager manager() {
        return manager;
    }

    @Override
    public void setActiveAdapters(List<String> names) {
        active = names;
    }

    @Override
    public void attachSiteModule(String adapterName, SiteModule module) {
        throw new UnsupportedOperationException("golden cases use linear sites only");
    }

    @Override
    public void detachSiteModules(String adapterName) {
    }

    @Override
    public NDArray embed(long[] tokenIds) {
        throw new UnsupportedOperationException();
    }

    @Override
    public Optional<Function<String, long[]>> tokenizer() {
        return Optional.empty();
    }
}
