package io.peft4j.plugins.adalora;

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
import io.peft4j.api.TargetSpec;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.pf4j.Extension;

/**
 * The AdaLoRA method (Zhang et al. 2023): SVD-form updates {@code B diag(E) A} on linear layers whose rank budget
 * is pruned during training by the {@link AdaLoraRankAllocator "adalora" rank allocator}, with an orthogonality
 * regulariser on A and B. See {@link AdaLoraLayer} for the math and {@link AdaLoraConfig} for the options.
 */
@Extension
public final class AdaLoraAdapter implements Adapter {
    public static final String METHOD = "adalora";

    /**
     * Default targets: PEFT's {@code TRANSFORMERS_MODELS_TO_ADALORA_TARGET_MODULES_MAPPING}, a copy of LoRA's.
     * <p>Mixed batch: row i's update {@code s·B (E ⊙ A) x_i} depends on row i alone, so a mixed batch may apply the
     * adapter to its own rows (the budget schedule only runs in training, never in a mixed batch).
     */
    @Override
    public AdapterDescriptor descriptor() {
        return new AdapterDescriptor(METHOD, "ADALORA", AdaLoraConfig.class, Set.of(SiteKind.LINEAR),
                "AdaLoRA: SVD-form low-rank update with budget-scheduled rank pruning and orthogonal regulariser")
                .withDefaultTargets(TargetSpec::loraFamilyDefaults)
                .withMixedBatch();
    }

    /** Every {@code rank_pattern} key must name a {@code lora_E} of a module this adapter is attached to. */
    @Override
    public void validate(AdapterConfig config, List<SiteInfo> sites, ModelShape shape) {
        AdaLoraConfig c = (AdaLoraConfig) config;
        if (c.rankPattern() == null) {
            return;
        }
        Set<String> known = new HashSet<>();
        sites.forEach(s -> known.add(s.path() + AdaLoraConfig.PATTERN_SUFFIX));
        for (String key : c.rankPattern().keySet()) {
            if (!known.contains(key)) {
                throw new ConfigException("rank_pattern." + key, "names no module this adapter targets; targeted: "
                        + sites.stream().map(SiteInfo::path).toList());
            }
        }
    }

    @Override
    public AdapterInstance create(String name, AdapterConfig config, List<SiteInfo> sites, AdapterContext ctx) {
        AdaLoraConfig c = (AdaLoraConfig) config;
        boolean init = (Boolean) c.initLoraWeights();
        NDManager m = ctx.manager();
        Map<String, AdaLoraLayer> layers = new LinkedHashMap<>();
        for (SiteInfo s : sites) {
            List<Boolean> pattern = c.patternFor(s.path());
            int r = pattern == null ? c.initR() : (int) pattern.stream().filter(b -> b).count();
            // PEFT draws A, E, B ~ N(0, 1); the default init then sets E = 0 and A, B ~ N(0, 0.02^2).
            float std = init ? 0.02f : 1f;
            NDArray a = m.randomNormal(0f, std, new Shape(r, s.inFeatures()), DataType.FLOAT32);
            NDArray e = init ? m.zeros(new Shape(r, 1)) : m.randomNormal(new Shape(r, 1));
            NDArray b = m.randomNormal(0f, std, new Shape(s.outFeatures(), r), DataType.FLOAT32);
            layers.put(s.path(), new AdaLoraLayer(s, r, c.initR(), c.scaling(r), c.loraDropout().floatValue(),
                    a, e, b));
        }
        return new AdaLoraInstance(name, c, layers);
    }
}
