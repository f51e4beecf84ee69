package io.peft4j.plugins.bottleneck;

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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.pf4j.Extension;

/**
 * Bottleneck adapters after whole sub-layers (see {@link BottleneckModule} for the math and
 * {@link BottleneckConfig} for the options). The targets are derived from {@code adapter_placement}; the adapter is
 * non-linear and therefore never merged into weights.
 */
@Extension
public final class BottleneckAdapter implements Adapter {
    public static final String METHOD = "bottleneck";

    @Override
    public AdapterDescriptor descriptor() {
        return new AdapterDescriptor(METHOD, "BOTTLENECK", BottleneckConfig.class, Set.of(SiteKind.SUBLAYER_OUTPUT),
                "Bottleneck adapters (Houlsby/Pfeiffer): down-projection, non-linearity, up-projection, residual, "
                + "after the attention and/or MLP block (peft4j format, not mergeable)");
    }

    /** Every placement must select at least one sub-layer of this model; the width must fit the hidden size. */
    @Override
    public void validate(AdapterConfig config, List<SiteInfo> sites, ModelShape shape) {
        BottleneckConfig c = (BottleneckConfig) config;
        for (String p : c.adapterPlacement()) {
            String part = BottleneckConfig.PLACEMENTS.get(p);
            boolean any = part != null && sites.stream().anyMatch(s -> s.shortName().equals(part));
            if (!any) {
                throw new ConfigException("adapter_placement", "\"" + p + "\" selects no sub-layer of this model; "
                        + "valid placements: " + BottleneckConfig.PLACEMENTS.keySet());
            }
        }
        int width = c.width(shape.hiddenSize());
        if (width > shape.hiddenSize()) {
            throw new ConfigException(c.bottleneckSize() != null ? "bottleneck_size" : "reduction_factor",
                    "bottleneck width " + width + " is larger than the hidden size " + shape.hiddenSize()
                            + " (a bottleneck must narrow the representation)");
        }
    }

    @Override
    public AdapterInstance create(String name, AdapterConfig config, List<SiteInfo> sites, AdapterContext ctx) {
        BottleneckConfig c = (BottleneckConfig) config;
        NDManager m = ctx.manager();
        Map<String, BottleneckModule> modules = new LinkedHashMap<>();
        for (SiteInfo s : sites) {
            int h = s.inFeatures();
            int w = c.width(h);
            float bound = (float) (1.0 / Math.sqrt(h));   // nn.Linear's default init over fan_in = h
            NDArray downW = m.randomUniform(-bound, bound, new Shape(w, h), DataType.FLOAT32);
            NDArray downB = m.randomUniform(-bound, bound, new Shape(w), DataType.FLOAT32);
            NDArray upW = m.zeros(new Shape(h, w));
            NDArray upB = m.zeros(new Shape(h));
            modules.put(s.path(), new BottleneckModule(s, c.nonLinearity(), c.adapterDropout().floatValue(),
                    c.scaling().floatValue(), downW, downB, upW, upB));
        }
        return new BottleneckInstance(name, c, modules);
    }
}
