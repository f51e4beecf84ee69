package org.example.ia3;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.Adapter;
import io.peft4j.api.AdapterConfig;
import io.peft4j.api.AdapterContext;
import io.peft4j.api.AdapterDescriptor;
import io.peft4j.api.AdapterInstance;
import io.peft4j.api.ConfigException;
import io.peft4j.api.ParamRole;
import io.peft4j.api.Parameter;
import io.peft4j.api.PeftKeys;
import io.peft4j.api.SiteInfo;
import io.peft4j.api.SiteKind;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.pf4j.Extension;

/**
 * IA3 as a third-party peft4j method: compiled against platform-api only, packed as a PF4J plugin jar and dropped
 * into the plugins directory. Saved in Hugging Face PEFT's IA3 format ({@code peft_type "IA3"}, key
 * {@code base_model.model.<module>.ia3_l}).
 */
@Extension
public final class Ia3Adapter implements Adapter {

    @Override
    public AdapterDescriptor descriptor() {
        return new AdapterDescriptor("ia3", "IA3", Ia3Config.class, Set.of(SiteKind.LINEAR),
                "IA3: learned vectors rescale attention k/v outputs and feed-forward inputs");
    }

    @Override
    public AdapterInstance create(String name, AdapterConfig config, List<SiteInfo> sites, AdapterContext ctx) {
        Ia3Config c = (Ia3Config) config;
        Map<String, Ia3Layer> layers = new LinkedHashMap<>();
        for (SiteInfo s : sites) {
            boolean ff = c.feedforward(s.path());
            // PEFT's shapes (they are the saved shapes too): [1, in] for feed-forward layers, [out, 1] otherwise.
            Shape shape = ff ? new Shape(1, s.inFeatures()) : new Shape(s.outFeatures(), 1);
            NDArray l = c.initIa3Weights() ? ctx.manager().ones(shape)
                    : ctx.manager().randomNormal(1f, 0.02f, shape, ai.djl.ndarray.types.DataType.FLOAT32);
            layers.put(s.path(), new Ia3Layer(s, ff, l));
        }
        return new Instance(name, c, layers);
    }

    private record Instance(String name, Ia3Config config, Map<String, Ia3Layer> modules) implements AdapterInstance {
        @Override
        public List<Parameter> parameters() {
            List<Parameter> out = new ArrayList<>();
            modules.forEach((p, l) -> out.add(new Parameter(PeftKeys.inMemory(p, "ia3_l", name, null), l.l,
                    ParamRole.VECTOR, true)));
            return out;
        }

        @Override
        public Map<String, NDArray> stateDict() {
            Map<String, NDArray> out = new LinkedHashMap<>();
            modules.forEach((p, l) -> out.put(PeftKeys.saved(p, "ia3_l"), l.l));
            return out;
        }

        @Override
        public Set<String> loadStateDict(Map<String, NDArray> tensors) {
            Set<String> used = new HashSet<>();
            for (Map.Entry<String, NDArray> e : stateDict().entrySet()) {
                NDArray src = tensors.get(e.getKey());
                if (src == null || !src.getShape().equals(e.getValue().getShape())) {
                    throw new ConfigException(e.getKey(), src == null ? "missing" : "shape " + src.getShape()
                            + " does not match the module's " + e.getValue().getShape());
                }
                e.getValue().set(new NDIndex("..."), src);
                used.add(e.getKey());
            }
            return used;
        }
    }
}
