package io.peft4j.it.golden;

import io.peft4j.plugins.testkit.GoldenCase;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.Adapter;
import io.peft4j.api.AdapterConfig;
import io.peft4j.api.LinearSiteModule;
import io.peft4j.api.PeftKeys;
import io.peft4j.core.model.AdaptableLinear;
import io.peft4j.core.peft.AdapterConfigCodec;
import io.peft4j.core.peft.AttachedAdapter;
import io.peft4j.core.peft.PeftModel;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import io.peft4j.plugins.testkit.TestForwardContext;

/**
 * Golden cases of VeRA ({@code vera_*}), through the SPI. The case's layer is adapted together with a second,
 * larger layer sized to the case's projections, so the shared {@code vera_A [r, max_in]} / {@code vera_B [max_out, r]}
 * have the case's shapes and the case's layer uses sliced projections.
 */
final class VeraCases {
    static final String PATH = LoraFamilyCases.PATH;
    static final String WIDE = "model.layers.0.self_attn.k_proj";
    static final String KEY_A = "base_model.vera_A";
    static final String KEY_B = "base_model.vera_B";

    private VeraCases() {
    }

    private static AttachedAdapter attach(GoldenCase c, Adapter vera, SingleLinearHost host, List<String> targets,
                                          Map<String, Object> extra) {
        Map<String, Object> cfg = new LinkedHashMap<>(c.configMap());
        cfg.put("target_modules", targets);
        cfg.putAll(extra);
        AdapterConfig config = AdapterConfigCodec.parseLenient(vera, cfg, c.name());
        PeftModel pm = new PeftModel(host, n -> Optional.empty());
        AttachedAdapter a = pm.addAdapter("default", vera, config, 0);
        pm.setActive(List.of("default"));
        return a;
    }

    /** {@code vera_forward}: output with sliced shared projections, delta weight, merge and unmerge. */
    static void forward(GoldenCase c, Adapter vera, NDManager m) {
        NDArray veraA = c.input(m, "vera_A");
        NDArray veraB = c.input(m, "vera_B");
        SingleLinearHost host = new SingleLinearHost(m);
        AdaptableLinear linear = host.add(PATH, c.input(m, "weight"), c.input(m, "bias"));
        host.add(WIDE, m.randomNormal(new Shape(veraB.getShape().get(0), veraA.getShape().get(1))), null);
        AttachedAdapter a = attach(c, vera, host, List.of("q_proj", "k_proj"), Map.of());
        Map<String, NDArray> saved = new HashMap<>(a.instance().stateDict());  // keeps the wide layer's own lambdas
        saved.put(PeftKeys.saved(PATH, "vera_lambda_b"), c.input(m, "vera_lambda_b"));
        saved.put(PeftKeys.saved(PATH, "vera_lambda_d"), c.input(m, "vera_lambda_d"));
        saved.put(KEY_A, veraA);
        saved.put(KEY_B, veraB);
        a.instance().loadStateDict(saved);

        NDArray x = c.input(m, "x");
        NDArray y = linear.forward(x, host.active(), new TestForwardContext(false, m, null));
        c.assertClose("y", y, c.expected(m, "y"));
        LinearSiteModule site = (LinearSiteModule) a.instance().modules().get(PATH);
        c.assertClose("delta_weight", site.deltaWeight(linear).orElseThrow(), c.expected(m, "delta_weight"));
        NDArray w0 = linear.rawWeight().duplicate();
        linear.merge("default");
        c.assertClose("merged forward", linear.forward(x, host.active(), new TestForwardContext(false, m, null)),
                c.expected(m, "y"));
        linear.unmergeAll();
        c.assertClose("unmerged weight", linear.rawWeight(), w0);
    }

    /**
     * {@code vera_projection_prng}: a fresh adapter whose targets span {@code max_in} x {@code max_out} draws exactly
     * torch's projections for {@code projection_prng_key} (bit-exact; tolerance 0 in the case).
     */
    static void projectionPrng(GoldenCase c, Adapter vera, NDManager m) {
        int maxIn = c.config().get("max_in_features").asInt();
        int maxOut = c.config().get("max_out_features").asInt();
        SingleLinearHost host = new SingleLinearHost(m);
        host.add(PATH, m.randomNormal(new Shape(maxOut, maxIn)), null);
        AttachedAdapter a = attach(c, vera, host, List.of("q_proj"), Map.of("save_projection", true));
        Map<String, NDArray> sd = a.instance().stateDict();
        c.assertClose("vera_A", sd.get(KEY_A), c.expected(m, "vera_A"));
        c.assertClose("vera_B", sd.get(KEY_B), c.expected(m, "vera_B"));
    }

    /** The VeRA parts of {@code peft_state_dict_keys}. */
    static void stateDictKeys(GoldenCase c, Adapter vera, NDManager m) {
        LoraFamilyCases.checkKeys(c, vera, m, "vera_save_projection_true", Map.of("save_projection", true));
        LoraFamilyCases.checkKeys(c, vera, m, "vera_save_projection_false", Map.of("save_projection", false));
    }
}
