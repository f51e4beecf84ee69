package io.peft4j.plugins.vera;

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
import io.peft4j.api.SiteInfo;
import io.peft4j.api.SiteKind;
import io.peft4j.api.TargetSpec;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.pf4j.Extension;

/**
 * The VeRA method: one pair of frozen random projections per adapter, sized over all targeted layers, and two
 * trainable scaling vectors per layer. See {@link VeraLayer} for the math and {@link VeraConfig} for the options.
 *
 * <p>The projections are drawn exactly as PEFT draws them ({@link TorchCpuGenerator} seeded with
 * {@code projection_prng_key}: {@code vera_A} first, then {@code vera_B}), so a fresh adapter equals PEFT's and an
 * adapter saved with {@code save_projection: false} reloads identically.
 */
@Extension
public final class VeraAdapter implements Adapter {
    public static final String METHOD = "vera";

    /**
     * Default targets: PEFT's {@code TRANSFORMERS_MODELS_TO_VERA_TARGET_MODULES_MAPPING}, a copy of LoRA's.
     * <p>Mixed batch: row i's update {@code Λ_b B Λ_d A x_i} (frozen shared A, B) depends on row i alone, so a mixed
     * batch may apply the adapter to its own rows.
     */
    @Override
    public AdapterDescriptor descriptor() {
        return new AdapterDescriptor(METHOD, "VERA", VeraConfig.class, Set.of(SiteKind.LINEAR),
                "VeRA: shared frozen random projections with trained per-layer scaling vectors lambda_b, lambda_d")
                .withDefaultTargets(TargetSpec::loraFamilyDefaults)
                .withMixedBatch();
    }

    @Override
    public AdapterInstance create(String name, AdapterConfig config, List<SiteInfo> sites, AdapterContext ctx) {
        VeraConfig c = (VeraConfig) config;
        if (sites.isEmpty()) {
            throw new ConfigException("target_modules", "VeRA adapter '" + name + "' matched no linear layer");
        }
        int maxIn = sites.stream().mapToInt(SiteInfo::inFeatures).max().orElseThrow();
        int maxOut = sites.stream().mapToInt(SiteInfo::outFeatures).max().orElseThrow();
        NDManager m = ctx.manager();
        NDArray[] proj = projections(m, c.projectionPrngKey(), c.r(), maxIn, maxOut);
        Map<String, VeraLayer> layers = new LinkedHashMap<>();
        for (SiteInfo s : sites) {
            NDArray lambdaB;
            NDArray lambdaD;
            if (c.initWeights()) {
                lambdaB = m.zeros(new Shape(s.outFeatures()));
                lambdaD = m.full(new Shape(c.r()), c.dInitial().floatValue());
            } else {
                lambdaB = m.ones(new Shape(s.outFeatures()));
                lambdaD = m.randomNormal(0f, 1f, new Shape(c.r()), DataType.FLOAT32);
            }
            layers.put(s.path(), new VeraLayer(s, c.veraDropout().floatValue(), proj[0], proj[1], lambdaB, lambdaD));
        }
        return new VeraInstance(name, c, layers, proj[0], proj[1]);
    }

    /**
     * {@code vera_A [r, maxIn]} and {@code vera_B [maxOut, r]}, drawn in that order from one torch CPU generator
     * seeded with {@code key}, each Kaiming-uniform over its own {@code fan_in = size(1)} (PEFT's
     * {@code VeraModel._init_vera_A_vera_B}).
     */
    static NDArray[] projections(NDManager m, long key, int r, int maxIn, int maxOut) {
        TorchCpuGenerator gen = new TorchCpuGenerator(key);
        float[] a = gen.kaimingUniform(r, maxIn);
        float[] b = gen.kaimingUniform(maxOut, r);
        return new NDArray[] {m.create(a, new Shape(r, maxIn)), m.create(b, new Shape(maxOut, r))};
    }
}
