package io.peft4j.core.peft;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.ConfigException;
import io.peft4j.api.LowRankSite;
import io.peft4j.api.LowRankUpdate;
import io.peft4j.api.PeftKeys;
import io.peft4j.api.SiteModule;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

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
 * magnitude, which depends on {@code W + s·BA} only) is passed through.
 *
 * <p>Precondition (the initializer contract of PiSSA-style methods): the base weight after initialisation was
 * {@code W - s·B0 A0}. For an initializer that sets factors without rewriting the base the result would be wrong.
 */
public final class PissaConversion {

    private PissaConversion() {
    }

    /**
     * A converted adapter, ready for {@link AdapterFiles}.
     *
     * @param config    the {@code adapter_config.json} content
     * @param stateDict the tensors under PEFT's saved key names
     */
    public record Converted(Map<String, Object> config, Map<String, NDArray> stateDict) {
    }

    /**
     * @param adapter       an adapter whose modules are {@link LowRankSite}s
     * @param initial       the factors {@code (A0, B0)} per module path captured right after initialisation
     *                      ({@link PeftModel#initialFactors})
     * @param baseModelName written as {@code base_model_name_or_path}
     * @param manager       owns the new (concatenated) tensors; the caller closes it after writing
     */
    public static Converted convert(AttachedAdapter adapter, Map<String, LowRankUpdate> initial, String baseModelName,
                                    NDManager manager) {
        Map<String, Object> cfg = convertConfig(AdapterConfigCodec.toPeftJson(adapter.method(),
                adapter.instance().config(), baseModelName), adapter.name());
        Map<String, NDArray> state = new LinkedHashMap<>(adapter.instance().stateDict());
        for (Map.Entry<String, ? extends SiteModule> e : adapter.instance().modules().entrySet()) {
            String path = e.getKey();
            if (!(e.getValue() instanceof LowRankSite site)) {
                throw new ConfigException("output.convert_to_lora", "adapter '" + adapter.name() + "' module " + path
                        + " is not a low-rank (s·BA) module; only LoRA-family adapters can be converted");
            }
            LowRankUpdate init = initial.get(path);
            if (init == null) {
                throw new IllegalStateException("adapter '" + adapter.name() + "': no initial factors captured for "
                        + path + " (enable PeftModel.captureInitialFactors before adding the adapter)");
            }
            String keyA = PeftKeys.saved(path, "lora_A.weight");
            String keyB = PeftKeys.saved(path, "lora_B.weight");
            if (!state.containsKey(keyA) || !state.containsKey(keyB)) {
                throw new IllegalStateException("adapter '" + adapter.name() + "' saves no " + keyA + " / " + keyB);
            }
            NDArray a;
            NDArray b;
            try (NDManager tmp = manager.newSubManager()) {
                int r = site.rank();
                NDArray negB0 = init.loraB().neg();
                negB0.attach(tmp);
                a = NDArrays.concat(new NDList(padded(site.loraA(), 0, r, tmp)).addAll(padded(init.loraA(), 0, r, tmp)),
                        0);
                b = NDArrays.concat(new NDList(padded(site.loraB(), 1, r, tmp)).addAll(padded(negB0, 1, r, tmp)), 1);
                a.attach(manager);
                b.attach(manager);
            }
            state.put(keyA, a);
            state.put(keyB, b);
        }
        return new Converted(cfg, state);
    }

    /**
     * {@code x} and, if it has fewer than {@code size} rows ({@code axis} 0) or columns (1), the zeros that fill it up. PiSSA with {@code r > min(in, out)} has factors of
     * {@code min(in, out)} rows (PEFT slices the SVD there); padding them gives the converted adapter exactly the
     * rank 2r its config states, with the same {@code B A}. (PEFT 0.14 itself fails to convert such an adapter: it
     * cannot load its initial adapter, whose tensors are smaller than r.)
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

    /** The config changes of the conversion, on a PEFT {@code adapter_config.json} map. */
    static Map<String, Object> convertConfig(Map<String, Object> json, String adapterName) {
        Map<String, Object> out = new TreeMap<>(json);
        boolean rslora = Boolean.TRUE.equals(out.get("use_rslora"));
        Map<?, ?> rankPattern = out.get("rank_pattern") instanceof Map<?, ?> rp ? rp : Map.of();
        Map<?, ?> alphaPattern = out.get("alpha_pattern") instanceof Map<?, ?> ap ? ap : Map.of();
        if (rslora && (!rankPattern.isEmpty() || !alphaPattern.isEmpty())) {
            throw new ConfigException("output.convert_to_lora", "adapter '" + adapterName + "': conversion to LoRA "
                    + "is not supported with use_rslora together with rank_pattern or alpha_pattern (as in PEFT: "
                    + "the doubled ranks would change the per-module scaling)");
        }
        if (!(out.get("r") instanceof Number r) || !(out.get("lora_alpha") instanceof Number alpha)) {
            throw new ConfigException("output.convert_to_lora", "adapter '" + adapterName + "' has no r / lora_alpha; "
                    + "only LoRA-family adapters can be converted");
        }
        out.put("r", 2 * r.intValue());
        out.put("lora_alpha", rslora ? alpha.doubleValue() * Math.sqrt(2) : 2 * alpha.doubleValue());
        out.put("rank_pattern", doubled(rankPattern, true));
        out.put("alpha_pattern", doubled(alphaPattern, false));
        out.put("init_lora_weights", true);
        return out;
    }

    private static Map<String, Object> doubled(Map<?, ?> pattern, boolean integers) {
        Map<String, Object> out = new LinkedHashMap<>();
        pattern.forEach((k, v) -> {
            double d = 2 * ((Number) v).doubleValue();
            out.put(String.valueOf(k), integers ? (Object) (int) d : (Object) d);
        });
        return out;
    }
}
