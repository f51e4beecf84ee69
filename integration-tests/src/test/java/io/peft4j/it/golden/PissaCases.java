package io.peft4j.it.golden;

import io.peft4j.plugins.testkit.GoldenCase;
import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.Adapter;
import io.peft4j.api.AdapterConfig;
import io.peft4j.api.Initializer;
import io.peft4j.api.LowRankSite;
import io.peft4j.api.LowRankUpdate;
import io.peft4j.api.PeftKeys;
import io.peft4j.core.model.AdaptableLinear;
import io.peft4j.core.peft.AdapterConfigCodec;
import io.peft4j.core.peft.AttachedAdapter;
import io.peft4j.core.peft.PeftModel;
import io.peft4j.core.peft.PissaConversion;
import io.peft4j.core.plugin.InstalledExtensions;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Golden cases of the SVD initializers ({@code pissa_init}, {@code pissa_init_rslora}, {@code pissa_niter_init},
 * {@code milora_init}) and of the PiSSA to LoRA conversion ({@code pissa_to_lora_conversion[_rslora]}). The
 * initializer is the installed plugin found by {@link InstalledExtensions#initializerFor}, driven through the
 * installed LoRA method exactly as a run does ({@code init_lora_weights} in the LoRA config). Only sign-invariant
 * quantities are compared: {@code B A}, {@code s·B A}, the residual weight, the row / column norms of the factors
 * and the singular values they carry ({@code s·|A_i|^2}).
 */
final class PissaCases {
    static final String PATH = LoraFamilyCases.PATH;

    private PissaCases() {
    }

    static void init(GoldenCase c, Adapter lora, InstalledExtensions ext, NDManager m) {
        SingleLinearHost host = new SingleLinearHost(m);
        NDArray w = c.input(m, "weight");
        AdaptableLinear linear = host.add(PATH, w.duplicate(), null);
        Map<String, Object> cfg = new LinkedHashMap<>(c.configMap());
        cfg.put("target_modules", List.of("q_proj"));
        AdapterConfig config = AdapterConfigCodec.parseLenient(lora, cfg, c.name());
        AttachedAdapter a = new PeftModel(host, ext::initializerFor).addAdapter("default", lora, config, 0);
        LowRankSite site = (LowRankSite) a.instance().modules().get(PATH);
        double s = c.config().get("scaling").asDouble();
        c.assertClose("scaling", site.scaling(), s);

        if (c.expected().has("lora_A_shape")) {   // PEFT slices the SVD at min(in, out) when r is larger
            assertThat(site.loraA().getShape().getShape()).as(c.name() + ": lora_A shape")
                    .containsExactly(longs(c.expected().get("lora_A_shape")));
            assertThat(site.loraB().getShape().getShape()).as(c.name() + ": lora_B shape")
                    .containsExactly(longs(c.expected().get("lora_B_shape")));
        }
        NDArray ba = site.loraB().matMul(site.loraA());
        c.assertClose("BA_product", ba, c.expected(m, "BA_product"));
        if (c.expected().has("scaled_delta")) {
            c.assertClose("scaled_delta", ba.mul(s), c.expected(m, "scaled_delta"));
        }
        c.assertClose("residual_weight", linear.rawWeight(), c.expected(m, "residual_weight"));
        NDArray rowNormsA = site.loraA().norm(new int[] {1});
        NDArray colNormsB = site.loraB().norm(new int[] {0});
        if (c.expected().has("lora_A_row_norms")) {
            c.assertClose("lora_A_row_norms", rowNormsA, c.expected(m, "lora_A_row_norms"));
            c.assertClose("lora_B_col_norms", colNormsB, c.expected(m, "lora_B_col_norms"));
        }
        String values = c.expected().has("minor_singular_values") ? "minor_singular_values" : "top_singular_values";
        c.assertClose(values + " (s·|A_i|^2)", rowNormsA.square().mul(s), c.expected(m, values));

        // Exact invariant, whatever the (random, approximate) decomposition: W_res + s·B A == W.
        float[] sum = linear.rawWeight().add(ba.mul(s)).toFloatArray();
        float[] w0 = w.toFloatArray();
        double worst = 0;
        for (int i = 0; i < w0.length; i++) {
            worst = Math.max(worst, Math.abs(sum[i] - w0[i]));
        }
        assertThat(worst).as(c.name() + ": max |W_res + s·BA - W|").isLessThanOrEqualTo(1e-5);
    }

    private static long[] longs(com.fasterxml.jackson.databind.JsonNode list) {
        long[] out = new long[list.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = list.get(i).asLong();
        }
        return out;
    }

    /**
     * Loads the trained factors into a LoRA adapter, converts it with the captured initial factors, checks the
     * converted tensors and config, then loads the converted adapter (its own config) on a fresh layer and checks
     * its delta weight {@code s·B'A' = s·(B A - B0 A0)}.
     */
    static void conversion(GoldenCase c, Adapter lora, Initializer pissa, NDManager m) {
        NDArray a0 = c.input(m, "lora_A_initial");
        NDArray b0 = c.input(m, "lora_B_initial");
        long out = b0.getShape().get(0);
        long in = a0.getShape().get(1);
        SingleLinearHost host = new SingleLinearHost(m);
        host.add(PATH, m.randomNormal(new Shape(out, in)), null);
        Map<String, Object> cfg = new LinkedHashMap<>(c.configMap());
        cfg.put("target_modules", List.of("q_proj"));
        Map<String, NDArray> trained = new HashMap<>();
        trained.put(PeftKeys.saved(PATH, "lora_A.weight"), c.input(m, "lora_A_trained"));
        trained.put(PeftKeys.saved(PATH, "lora_B.weight"), c.input(m, "lora_B_trained"));
        AttachedAdapter a = LoraFamilyCases.attach(c, lora, m, host, Map.of(), trained);
        double s = c.config().get("scaling").asDouble();
        Map<String, LowRankUpdate> initial = Map.of(PATH, new LowRankUpdate(a0, b0, s));

        PissaConversion.Converted conv = PissaConversion.convert(a, pissa, initial, null, m);
        NDArray aConv = conv.stateDict().get(PeftKeys.saved(PATH, "lora_A.weight"));
        NDArray bConv = conv.stateDict().get(PeftKeys.saved(PATH, "lora_B.weight"));
        c.assertClose("lora_A_converted", aConv, c.expected(m, "lora_A_converted"));
        c.assertClose("lora_B_converted", bConv, c.expected(m, "lora_B_converted"));
        assertThat(conv.config().get("r")).as(c.name() + ": r").isEqualTo(c.expected().get("new_r").asInt());
        c.assertClose("lora_alpha", ((Number) conv.config().get("lora_alpha")).doubleValue(),
                c.expected().get("new_lora_alpha").asDouble());
        assertThat(conv.config().get("init_lora_weights")).as(c.name() + ": init_lora_weights")
                .isEqualTo(c.expected().get("new_init_lora_weights").asBoolean());

        SingleLinearHost fresh = new SingleLinearHost(m);
        AdaptableLinear linear = fresh.add(PATH, m.zeros(new Shape(out, in)), null);
        AdapterConfig converted = AdapterConfigCodec.parseLenient(lora, conv.config(), c.name() + " (converted)");
        AttachedAdapter reloaded = new PeftModel(fresh, n -> Optional.empty()).addAdapter("default", lora,
                converted, 0);
        reloaded.instance().loadStateDict(conv.stateDict());
        LowRankSite site = (LowRankSite) reloaded.instance().modules().get(PATH);
        c.assertClose("scaling after conversion", site.scaling(), s);
        c.assertClose("delta_weight", site.deltaWeight(linear).orElseThrow(), c.expected(m, "delta_weight"));
    }
}
