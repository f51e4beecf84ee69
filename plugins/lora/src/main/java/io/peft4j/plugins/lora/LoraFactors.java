package io.peft4j.plugins.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.AdapterContext;
import io.peft4j.api.ConfigException;
import io.peft4j.api.Initializer;
import io.peft4j.api.LinearBase;
import io.peft4j.api.LowRankSite;
import io.peft4j.api.ParamRole;
import io.peft4j.api.Parameter;
import io.peft4j.api.PeftKeys;
import io.peft4j.api.SiteInfo;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import java.util.function.Function;
import java.util.function.ToIntFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code lora_A} / {@code lora_B} factors as LoRA and its variants create, initialise and name them. Public
 * because the dora plugin uses it through its PF4J plugin dependency on lora.
 */
public final class LoraFactors {
    private static final Logger LOG = LoggerFactory.getLogger(LoraFactors.class);
    /** The {@code init_lora_weights} values LoRA implements itself; any other names an {@link Initializer}. */
    public static final List<String> BUILT_IN_INITS = List.of("true", "false", "gaussian");

    private LoraFactors() {
    }

    /**
     * Warns (once per adapter) about ranks larger than {@code min(in, out)}. Hugging Face PEFT creates, trains and
     * saves such adapters ({@code lora_A [r, in]}, {@code lora_B [out, r]}), and so does this method: the update
     * {@code s·B A} then has rank at most {@code min(in, out)}, so the extra parameters buy nothing. A PiSSA/MiLoRA
     * adapter converted to plain LoRA has rank 2r, which exceeds {@code min(in, out)} whenever r is above half of it.
     */
    public static void warnLargeRanks(List<SiteInfo> sites, ToIntFunction<String> rankFor) {
        for (SiteInfo s : sites) {
            int r = rankFor.applyAsInt(s.path());
            int max = Math.min(s.inFeatures(), s.outFeatures());
            if (r > max) {
                LOG.warn("rank {} is larger than min(in, out) = {} of module {} [out={}, in={}]: accepted as in "
                        + "PEFT, but the update has rank at most {}", r, max, s.path(), s.outFeatures(),
                        s.inFeatures(), max);
                return;
            }
        }
    }

    /**
     * The installed initializer for a non-built-in {@code init} (validated against every site), or null for a
     * built-in one; an unknown name is a config error.
     */
    public static Initializer externalInitializer(String init, List<SiteInfo> sites, ToIntFunction<String> rankFor,
            AdapterContext ctx) {
        if (BUILT_IN_INITS.contains(init)) {
            return null;
        }
        Initializer external = ctx.initializer(init).orElseThrow(() -> new ConfigException("init_lora_weights",
                "\"" + init + "\" is not a LoRA built-in (true, false, gaussian) and no installed initializer "
                        + "plugin handles it"));
        for (SiteInfo s : sites) {
            external.validate(init, s, rankFor.applyAsInt(s.path()));
        }
        return external;
    }

    /** How a LoRA-family method builds its layer at one site from fresh factors {@code a [k, in]}, {@code b [out, k]}. */
    @FunctionalInterface
    public interface LayerFactory<L extends LowRankSite> {
        /** @param rank the site's {@code r} (after rank_pattern); {@code k} may be smaller (SVD initializers) */
        L create(SiteInfo site, int rank, NDArray a, NDArray b);
    }

    /**
     * One layer per site, created in PEFT's order: A and B from a built-in {@code init_lora_weights} ({@link #initA},
     * {@link #initB}), the layer from them, then an installed {@link Initializer} (PiSSA, MiLoRA, LoftQ: it sets the
     * factors and may rewrite the base weight), then {@code afterInit} with the site's (possibly rewritten) base, e.g.
     * DoRA's magnitude {@code ||W + s·B A||}.
     */
    public static <L extends LowRankSite> Map<String, L> createLayers(LoraFamilyConfig c, List<SiteInfo> sites,
            AdapterContext ctx, LayerFactory<L> factory, BiConsumer<L, LinearBase> afterInit) {
        String init = c.initName();
        Initializer external = externalInitializer(init, sites, c::rankFor, ctx);
        NDManager m = ctx.manager();
        Map<String, L> layers = new LinkedHashMap<>();
        for (SiteInfo s : sites) {
            int r = c.rankFor(s.path());
            int k = external == null ? r : external.factorRank(init, s, r);   // rows of A (PiSSA: <= min(in, out))
            L layer = factory.create(s, r, initA(m, init, k, s.inFeatures()), initB(m, init, s.outFeatures(), k));
            if (external != null) {
                external.initialize(init, layer, ctx.linear(s.path()), ctx);
            }
            if (afterInit != null) {
                afterInit.accept(layer, ctx.linear(s.path()));
            }
            layers.put(s.path(), layer);
        }
        return layers;
    }

    /**
     * A: kaiming-uniform with a = sqrt(5) on a [r, in] weight, i.e. U(-1/sqrt(in), 1/sqrt(in)), which is also
     * torch's default Linear init (used by {@code false}); {@code gaussian}: N(0, (1/r)^2).
     */
    public static NDArray initA(NDManager m, String init, int r, int in) {
        if (init.equals("gaussian")) {
            return m.randomNormal(0f, 1f / r, new Shape(r, in), DataType.FLOAT32);
        }
        float bound = (float) (1.0 / Math.sqrt(in));
        return m.randomUniform(-bound, bound, new Shape(r, in));
    }

    /** B: zero so the adapter starts as the identity; {@code false} keeps torch's default U(±1/sqrt(r)). */
    public static NDArray initB(NDManager m, String init, int out, int r) {
        if (init.equals("false")) {
            float bound = (float) (1.0 / Math.sqrt(r));
            return m.randomUniform(-bound, bound, new Shape(out, r));
        }
        return m.zeros(new Shape(out, r));
    }

    /**
     * One more trained tensor a LoRA variant keeps per module beside {@code lora_A} / {@code lora_B} (LoRA's
     * {@code lora_B} bias, DoRA's magnitude): in memory {@code PeftKeys.inMemory(path, name, adapter, field)}, saved
     * under {@code PeftKeys.saved(path, savedKey)}; a module whose {@code tensor} is null has none.
     */
    public record ExtraTensor<L>(String name, String field, String savedKey, ParamRole role,
                                 Function<L, NDArray> tensor) {
    }

    /** Per module, in order: {@code lora_A} (DOWN), {@code lora_B} (UP) and the extra tensor, all trainable. */
    public static <L extends LowRankSite> List<Parameter> parameters(Map<String, L> modules, String adapterName,
                                                                     ExtraTensor<L> extra) {
        List<Parameter> out = new ArrayList<>();
        modules.forEach((path, l) -> {
            out.add(new Parameter(PeftKeys.inMemory(path, "lora_A", adapterName, "weight"), l.loraA(),
                    ParamRole.DOWN, true));
            out.add(new Parameter(PeftKeys.inMemory(path, "lora_B", adapterName, "weight"), l.loraB(),
                    ParamRole.UP, true));
            NDArray t = extra.tensor().apply(l);
            if (t != null) {
                out.add(new Parameter(PeftKeys.inMemory(path, extra.name(), adapterName, extra.field()), t,
                        extra.role(), true));
            }
        });
        return out;
    }

    /** Per module, under PEFT's saved keys: {@code lora_A.weight}, {@code lora_B.weight} and the extra tensor. */
    public static <L extends LowRankSite> Map<String, NDArray> stateDict(Map<String, L> modules,
                                                                         ExtraTensor<L> extra) {
        Map<String, NDArray> out = new LinkedHashMap<>();
        modules.forEach((path, l) -> {
            out.put(PeftKeys.saved(path, "lora_A.weight"), l.loraA());
            out.put(PeftKeys.saved(path, "lora_B.weight"), l.loraB());
            NDArray t = extra.tensor().apply(l);
            if (t != null) {
                out.put(PeftKeys.saved(path, extra.savedKey()), t);
            }
        });
        return out;
    }

    /** Copies {@code src} into {@code dst} in place (so parameter references and gradients stay valid). */
    public static void copyInto(NDArray dst, NDArray src, String what) {
        if (!dst.getShape().equals(src.getShape())) {
            throw new IllegalArgumentException(what + ": expected shape " + dst.getShape() + ", got " + src.getShape());
        }
        dst.set(new NDIndex("..."), src.toType(dst.getDataType(), false));
    }
}
