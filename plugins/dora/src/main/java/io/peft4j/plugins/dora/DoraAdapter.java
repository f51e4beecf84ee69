package io.peft4j.plugins.dora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.Adapter;
import io.peft4j.api.AdapterConfig;
import io.peft4j.api.AdapterContext;
import io.peft4j.api.AdapterInstance;
import io.peft4j.api.ConfigException;
import io.peft4j.api.Initializer;
import io.peft4j.api.ModelShape;
import io.peft4j.api.SiteInfo;
import io.peft4j.api.SiteKind;
import java.util.LinkedHashMap;
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
public final class DoraAdapter implements Adapter {
    public static final String METHOD = "dora";

    @Override
    public String method() {
        return METHOD;
    }

    @Override
    public String description() {
        return "DoRA: LoRA with a learned per-row magnitude, m/||W + sBA|| (detached norm)";
    }

    @Override
    public String peftType() {
        return "LORA";
    }

    @Override
    public Class<? extends AdapterConfig> configType() {
        return DoraConfig.class;
    }

    @Override
    public Set<SiteKind> siteKinds() {
        return Set.of(SiteKind.LINEAR);
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
    public boolean readsPeftConfig(Map<String, Object> json) {
        return "LORA".equals(json.get("peft_type")) && Boolean.TRUE.equals(json.get("use_dora"));
    }

    @Override
    public void validate(AdapterConfig config, List<SiteInfo> sites, ModelShape shape) {
        DoraConfig c = (DoraConfig) config;
        for (SiteInfo s : sites) {
            int r = c.rankFor(s.path());
            int max = Math.min(s.inFeatures(), s.outFeatures());
            if (r > max) {
                throw new ConfigException(c.rankPattern().isEmpty() ? "r" : "r / rank_pattern",
                        "rank " + r + " is larger than min(in, out) = " + max + " of module " + s.path()
                                + " [out=" + s.outFeatures() + ", in=" + s.inFeatures() + "]");
            }
        }
    }

    @Override
    public AdapterInstance create(String name, AdapterConfig config, List<SiteInfo> sites, AdapterContext ctx) {
        DoraConfig c = (DoraConfig) config;
        String init = c.initName();
        Initializer external = null;
        if (!List.of("true", "false", "gaussian").contains(init)) {
            external = ctx.initializer(init).orElseThrow(() -> new ConfigException("init_lora_weights",
                    "\"" + init + "\" is not a LoRA built-in (true, false, gaussian) and no installed initializer "
                            + "plugin handles it"));
            for (SiteInfo s : sites) {
                external.validate(init, s, c.rankFor(s.path()));
            }
        }
        NDManager m = ctx.manager();
        Map<String, DoraLayer> layers = new LinkedHashMap<>();
        for (SiteInfo s : sites) {
            int r = c.rankFor(s.path());
            NDArray a = initA(m, init, r, s.inFeatures());
            NDArray b = initB(m, init, s.outFeatures(), r);
            NDArray magnitude = m.zeros(new Shape(s.outFeatures()));
            DoraLayer layer = new DoraLayer(s, r, c.scalingFor(s.path()), c.loraDropout().floatValue(), a, b,
                    magnitude);
            if (external != null) {
                external.initialize(init, layer, ctx.linear(s.path()), ctx);
            }
            layer.initMagnitude(ctx.linear(s.path()));
            layers.put(s.path(), layer);
        }
        return new DoraInstance(name, c, layers);
    }

    /**
     * A: kaiming-uniform with a = sqrt(5) on a [r, in] weight, i.e. U(-1/sqrt(in), 1/sqrt(in)), also torch's default
     * Linear init (used by {@code false}); {@code gaussian}: N(0, (1/r)^2). Same as LoRA.
     */
    static NDArray initA(NDManager m, String init, int r, int in) {
        if (init.equals("gaussian")) {
            return m.randomNormal(0f, 1f / r, new Shape(r, in), DataType.FLOAT32);
        }
        float bound = (float) (1.0 / Math.sqrt(in));
        return m.randomUniform(-bound, bound, new Shape(r, in));
    }

    /** B: zero so the adapter starts as the identity; {@code false} keeps torch's default U(±1/sqrt(r)). */
    static NDArray initB(NDManager m, String init, int out, int r) {
        if (init.equals("false")) {
            float bound = (float) (1.0 / Math.sqrt(r));
            return m.randomUniform(-bound, bound, new Shape(out, r));
        }
        return m.zeros(new Shape(out, r));
    }
}
