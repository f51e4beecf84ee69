package io.peft4j.plugins.pissa;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.AdapterInstance;
import io.peft4j.api.ConfigException;
import io.peft4j.api.Initializer.OriginalBaseAdapter;
import io.peft4j.api.LowRankConfig;
import io.peft4j.api.LowRankSettings;
import io.peft4j.api.LowRankSite;
import io.peft4j.api.LowRankUpdate;
import io.peft4j.api.PeftKeys;
import io.peft4j.api.SiteModule;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Converts an adapter initialised by a base-rewriting initializer (PiSSA, MiLoRA: base {@code W_res = W - s·B0 A0})
 * into a plain LoRA adapter for the <b>original</b> base weight {@code W}, as Hugging Face PEFT's
 * {@code save_pretrained(path_initial_model_for_weight_conversion=...)} (reference spec section 5.3):
 * <pre>
 *   A' = [A; A0]            concat rows     [2r, in]
 *   B' = [B, -B0]           concat columns  [out, 2r]
 *   r -> 2r, lora_alpha -> 2·alpha (rsLoRA: alpha·√2), rank_pattern / alpha_pattern values x2,
 *   init_lora_weights -> true
 * </pre>
 * The scaling is unchanged, so {@code W + s·B'A' = W + s·(B A - B0 A0) = W_res + s·B A}: the converted adapter on the
 * original model computes what the trained adapter computes on the residual model. Like PEFT, rsLoRA combined with
 * rank or alpha patterns is rejected (the per-module scaling would change). Every other saved tensor (e.g. DoRA's
 * magnitude, which depends on {@code W + s·BA} only) is passed through. Public because MiLoRA uses it through its
 * PF4J plugin dependency on pissa.
 */
public final class OriginalBaseConversion {

    private OriginalBaseConversion() {
    }

    /** See {@link io.peft4j.api.Initializer#convertForOriginalBase}. */
    public static OriginalBaseAdapter convert(AdapterInstance trained, Map<String, LowRankUpdate> initial,
                                              NDManager manager) {
        if (!(trained.config() instanceof LowRankConfig config)) {
            throw new ConfigException("", "adapter '" + trained.name() + "' has no low-rank configuration (r, "
                    + "lora_alpha); only LoRA-family adapters can be converted");
        }
        LowRankConfig converted = config.withLowRank(settings(config.lowRank()));
        Map<String, NDArray> state = new LinkedHashMap<>(trained.stateDict());
        for (Map.Entry<String, ? extends SiteModule> e : trained.modules().entrySet()) {
            String path = e.getKey();
            if (!(e.getValue() instanceof LowRankSite site)) {
                throw new ConfigException("", "adapter '" + trained.name() + "' module " + path + " is not a "
                        + "low-rank (s·BA) module; only LoRA-family adapters can be converted");
            }
            LowRankUpdate init = initial.get(path);
            if (init == null) {
                throw new IllegalStateException("adapter '" + trained.name() + "': no initial factors captured for "
                        + path);
            }
            String keyA = PeftKeys.saved(path, "lora_A.weight");
            String keyB = PeftKeys.saved(path, "lora_B.weight");
            if (!state.containsKey(keyA) || !state.containsKey(keyB)) {
                throw new IllegalStateException("adapter '" + trained.name() + "' saves no " + keyA + " / " + keyB);
            }
            try (NDManager tmp = manager.newSubManager()) {
                int r = site.rank();
                NDArray negB0 = init.loraB().neg();
                negB0.attach(tmp);
                NDArray a = NDArrays.concat(new NDList(padded(site.loraA(), 0, r, tmp))
                        .addAll(padded(init.loraA(), 0, r, tmp)), 0);
                NDArray b = NDArrays.concat(new NDList(padded(site.loraB(), 1, r, tmp))
                        .addAll(padded(negB0, 1, r, tmp)), 1);
                a.attach(manager);
                b.attach(manager);
                state.put(keyA, a);
                state.put(keyB, b);
            }
        }
        return new OriginalBaseAdapter(converted, state);
    }

    /**
     * The settings of the converted adapter: doubled ranks, alphas that keep every module's scaling, and the plain
     * initialisation ({@code init_lora_weights: true}; the factors are the saved ones).
     *
     * @throws ConfigException on {@code use_rslora} with rank or alpha patterns (PEFT refuses it too)
     */
    public static LowRankSettings settings(LowRankSettings s) {
        if (s.useRslora() && (!s.rankPattern().isEmpty() || !s.alphaPattern().isEmpty())) {
            throw new ConfigException("use_rslora", "conversion to LoRA is not supported with use_rslora together "
                    + "with rank_pattern or alpha_pattern (as in PEFT: the doubled ranks would change the per-module "
                    + "scaling)");
        }
        Map<String, Integer> ranks = new LinkedHashMap<>();
        s.rankPattern().forEach((k, v) -> ranks.put(k, 2 * v));
        Map<String, Double> alphas = new LinkedHashMap<>();
        s.alphaPattern().forEach((k, v) -> alphas.put(k, 2 * v));
        double alpha = s.useRslora() ? s.alpha() * Math.sqrt(2) : 2 * s.alpha();
        return new LowRankSettings(2 * s.r(), alpha, s.useRslora(), ranks, alphas, "true");
    }

    /**
     * {@code x} and, if it has fewer than {@code size} rows ({@code axis} 0) or columns (1), the zeros that fill it
     * up. PiSSA with {@code r > min(in, out)} has factors of {@code min(in, out)} rows (PEFT slices the SVD there);
     * padding them gives the converted adapter exactly the rank 2r its config states, with the same {@code B A}.
     * (PEFT 0.14 itself fails to convert such an adapter: it cannot load its initial adapter, whose tensors are
     * smaller than r.)
     */
    private static NDList padded(NDArray x, int axis, int size, NDManager tmp) {
        long have = x.getShape().get(axis);
        if (have >= size) {
            return new NDList(x);
        }
        long[] shape = x.getShape().getShape().clone();   // getShape() hands out the array's own cached dims
        shape[axis] = size - have;
        return new NDList(x, tmp.zeros(new Shape(shape), x.getDataType()));
    }
}
