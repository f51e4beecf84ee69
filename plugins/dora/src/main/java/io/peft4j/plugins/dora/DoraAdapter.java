package io.peft4j.plugins.dora;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.AdapterConfig;
import io.peft4j.api.AdapterContext;
import io.peft4j.api.AdapterDescriptor;
import io.peft4j.api.AdapterInstance;
import io.peft4j.api.Initializer;
import io.peft4j.api.SiteInfo;
import io.peft4j.api.SiteKind;
import io.peft4j.api.TargetSpec;
import io.peft4j.plugins.lora.LoraFactors;
import io.peft4j.plugins.lora.LoraFormatAdapter;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.pf4j.Extension;

/**
 * The DoRA method: LoRA factors plus a per-output-row magnitude on linear layers. See {@link DoraLayer} for the
 * math and {@link DoraConfig} for the options. On disk it is a PEFT LoRA adapter with {@code use_dora: true}.
 *
 * <p>Creation order follows PEFT: A and B are initialised first (built-ins {@code true}, {@code false},
 * {@code "gaussian"}, or an installed {@link Initializer} such as PiSSA, which may rewrite the base weight), then the
 * magnitude is computed from the (possibly rewritten) base weight and the factors.
 */
@Extension
public final class DoraAdapter extends LoraFormatAdapter {
    public static final String METHOD = "dora";

    public DoraAdapter() {
        super(true);
    }

    /** Default targets: LoRA's (PEFT uses the LoRA mapping for DoRA). */
    @Override
    public AdapterDescriptor descriptor() {
        return new AdapterDescriptor(METHOD, "LORA", DoraConfig.class, Set.of(SiteKind.LINEAR),
                "DoRA: LoRA with a learned per-row magnitude, m/||W + sBA|| (detached norm)")
                .withDefaultTargets(TargetSpec::loraFamilyDefaults);
    }

    /**
     * DoRA renormalises the whole layer output ({@code g ⊙ ...} rescales whatever else the layer computes), so it
     * does not stack with another adapter active on the same module; load several for switching instead.
     */
    @Override
    public boolean canShareSite(String otherMethod) {
        return false;
    }

    @Override
    public AdapterInstance create(String name, AdapterConfig config, List<SiteInfo> sites, AdapterContext ctx) {
        DoraConfig c = (DoraConfig) config;
        NDManager m = ctx.manager();
        Map<String, DoraLayer> layers = LoraFactors.createLayers(c, sites, ctx, (s, r, a, b) -> new DoraLayer(s, r,
                c.scalingFor(s.path()), c.loraDropout().floatValue(), a, b, m.zeros(new Shape(s.outFeatures()))),
                DoraLayer::initMagnitude);
        return new DoraInstance(name, c, layers);
    }
}
