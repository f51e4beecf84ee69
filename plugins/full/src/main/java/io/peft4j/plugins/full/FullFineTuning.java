package io.peft4j.plugins.full;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.Adapter;
import io.peft4j.api.AdapterConfig;
import io.peft4j.api.AdapterContext;
import io.peft4j.api.AdapterDescriptor;
import io.peft4j.api.AdapterInstance;
import io.peft4j.api.ParamRole;
import io.peft4j.api.Parameter;
import io.peft4j.api.PeftKeys;
import io.peft4j.api.SiteInfo;
import io.peft4j.api.SiteKind;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.pf4j.Extension;

/**
 * The full fine-tuning baseline every PEFT method should be compared against (method {@code full}): all targeted
 * linear weights are trained (see {@link DenseDeltaLayer}). Saved as a peft4j format (no PEFT equivalent):
 * {@code peft_type "FULL"}, one {@code base_model.model.<module>.delta_weight [out, in]} per layer; merging gives the
 * fine-tuned model.
 */
@Extension
public final class FullFineTuning implements Adapter {

    /**
     * Mixed batch: each row's update depends on that row's input only, so the mixed-batch path may apply it per row.
     */
    @Override
    public AdapterDescriptor descriptor() {
        return new AdapterDescriptor("full", "FULL", FullConfig.class, Set.of(SiteKind.LINEAR),
                "Full fine-tuning baseline: every targeted linear weight is trained (dense update)")
                .withMixedBatch();
    }

    @Override
    public AdapterInstance create(String name, AdapterConfig config, List<SiteInfo> sites, AdapterContext ctx) {
        Map<String, DenseDeltaLayer> layers = new LinkedHashMap<>();
        for (SiteInfo s : sites) {
            layers.put(s.path(), new DenseDeltaLayer(s, ctx.manager().zeros(new Shape(s.outFeatures(),
                    s.inFeatures()))));
        }
        return new Instance(name, (FullConfig) config, layers);
    }

    private record Instance(String name, FullConfig config, Map<String, DenseDeltaLayer> modules)
            implements AdapterInstance {
        @Override
        public List<Parameter> parameters() {
            List<Parameter> out = new ArrayList<>();
            modules.forEach((p, l) -> out.add(new Parameter(PeftKeys.inMemory(p, "delta_weight", name, null),
                    l.delta, ParamRole.DENSE, true)));
            return out;
        }

        @Override
        public Map<String, NDArray> stateDict() {
            Map<String, NDArray> out = new LinkedHashMap<>();
            modules.forEach((p, l) -> out.put(PeftKeys.saved(p, "delta_weight"), l.delta));
            return out;
        }
    }
}
