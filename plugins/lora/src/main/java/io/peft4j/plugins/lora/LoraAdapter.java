package io.peft4j.plugins.lora;

import ai.djl.ndarray.NDArray;
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
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.pf4j.Extension;

/**
 * The LoRA method: low-rank updates {@code ΔW = s·B A} on linear layers. See {@link LoraLayer} for the math and
 * {@link LoraConfig} for the options. Initialisations other than PEFT's built-in ones ({@code true}, {@code false},
 * {@code "gaussian"}) are delegated to installed {@link Initializer} plugins (PiSSA, MiLoRA).
 */
@Extension
public final class LoraAdapter extends LoraFormatAdapter {
    public static final String METHOD = "lora";

    public LoraAdapter() {
        super(false);
    }

    /**
     * Default targets: PEFT's LoRA target mapping: {@code q_proj, v_proj} for Llama, Mistral and Qwen2.
     * <p>Mixed batch: each row's update {@code s·B A x} depends on that row only (PEFT's mixed-batch forward).
     */
    @Override
    public AdapterDescriptor descriptor() {
        return new AdapterDescriptor(METHOD, "LORA", LoraConfig.class, Set.of(SiteKind.LINEAR),
                "LoRA: low-rank update s·BA on linear layers (rsLoRA, lora_bias, rank/alpha patterns)")
                .withDefaultTargets(TargetSpec::loraFamilyDefaults)
                .withMixedBatch();
    }

    @Override
    public AdapterInstance create(String name, AdapterConfig config, List<SiteInfo> sites, AdapterContext ctx) {
        LoraConfig c = (LoraConfig) config;
        String init = c.initName();
        NDManager m = ctx.manager();
        Map<String, LoraLayer> layers = LoraFactors.createLayers(c, sites, ctx, (s, r, a, b) -> new LoraLayer(s, r,
                c.scalingFor(s.path()), c.loraDropout().floatValue(), a, b,
                c.loraBias() ? initBias(m, init, s.outFeatures(), r) : null), null);
        return new LoraInstance(name, c, layers);
    }

    /** {@code lora_B}'s own bias ({@code lora_bias}): zero, or torch's default U(±1/sqrt(r)) with {@code false}. */
    static NDArray initBias(NDManager m, String init, int out, int r) {
        if (init.equals("false")) {
            float bound = (float) (1.0 / Math.sqrt(r));
            return m.randomUniform(-bound, bound, new Shape(out));
        }
        return m.zeros(new Shape(out));
    }
}
