package io.peft4j.it.golden;

import io.peft4j.plugins.testkit.GoldenCase;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.peft4j.api.Adapter;
import io.peft4j.api.AdapterConfig;
import io.peft4j.api.LinearSiteModule;
import io.peft4j.api.LowRankSite;
import io.peft4j.api.PeftKeys;
import io.peft4j.core.model.AdaptableLinear;
import io.peft4j.core.peft.AdapterConfigCodec;
import io.peft4j.core.peft.AttachedAdapter;
import io.peft4j.core.peft.PeftModel;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import static org.assertj.core.api.Assertions.assertThat;
import io.peft4j.plugins.testkit.TestForwardContext;

/**
 * Golden cases of the LoRA family, run through the SPI exactly as the platform uses it: parse the case config
 * into the installed method's config type, attach to a real linear layer, load the case's factors under PEFT's
 * saved key names, then forward or merge.
 */
final class LoraFamilyCases {
    static final String PATH = "model.layers.0.self_attn.q_proj";

    private LoraFamilyCases() {
    }

    /** Attaches {@code method} on one linear layer holding the case's weight/bias and loads {@code tensors}. */
    static AttachedAdapter attach(GoldenCase c, Adapter method, NDManager m, SingleLinearHost host,
                                  Map<String, Object> extraConfig, Map<String, NDArray> savedTensors) {
        Map<String, Object> cfg = new LinkedHashMap<>(c.configMap());
        cfg.put("target_modules", List.of("q_proj"));
        cfg.putAll(extraConfig);
        AdapterConfig config = AdapterConfigCodec.parseLenient(method, cfg, c.name());
        PeftModel pm = new PeftModel(host, name -> Optional.empty());
        AttachedAdapter a = pm.addAdapter("default", method, config, 0);
        a.instance().loadStateDict(savedTensors);
        pm.setActive(List.of("default"));
        return a;
    }

    /**
     * The case inputs a linear method saves, under PEFT's key names: {@code tensorKeys} maps an input name
     * ({@code lora_A}) to the saved key suffix ({@code lora_A.weight}); inputs the case lacks are left out.
     */
    static Map<String, NDArray> savedTensors(GoldenCase c, NDManager m, Map<String, String> tensorKeys) {
        Map<String, NDArray> saved = new HashMap<>();
        tensorKeys.forEach((input, key) -> {
            if (c.hasInput(input)) {
                saved.put(PeftKeys.saved(PATH, key), c.input(m, input));
            }
        });
        return saved;
    }

    /**
     * A forward case of any linear method: the case's factors loaded into the installed method on one real linear
     * layer, {@code y} (and {@code scaling} where given) compared; dropout uses the case's keep mask.
     */
    static void forward(GoldenCase c, Adapter method, Map<String, String> tensorKeys, NDManager m) {
        SingleLinearHost host = new SingleLinearHost(m);
        AdaptableLinear linear = host.add(PATH, c.input(m, "weight"), c.input(m, "bias"));
        AttachedAdapter a = attach(c, method, m, host, Map.of(), savedTensors(c, m, tensorKeys));
        if (c.expected().has("scaling")) {
            LowRankSite site = (LowRankSite) a.instance().modules().get(PATH);
            c.assertClose("scaling", site.scaling(), c.expected().get("scaling").asDouble());
        }
        boolean training = c.config().path("training").asBoolean(false);
        NDArray mask = c.hasInput("dropout_keep_mask") ? c.input(m, "dropout_keep_mask") : null;
        NDArray y = linear.forward(c.input(m, "x"), host.active(), new TestForwardContext(training, m, mask));
        c.assertClose("y", y, c.expected(m, "y"));
    }

    /**
     * A merge case of any linear method: the site's delta weight (the case's {@code delta_weight}, else the
     * effective one, merged minus original, as for DoRA), the merged weight and bias, and unmerge restoring both.
     */
    static void merge(GoldenCase c, Adapter method, Map<String, String> tensorKeys, NDManager m) {
        SingleLinearHost host = new SingleLinearHost(m);
        AdaptableLinear linear = host.add(PATH, c.input(m, "weight"), c.input(m, "bias"));
        AttachedAdapter a = attach(c, method, m, host, Map.of(), savedTensors(c, m, tensorKeys));
        LinearSiteModule site = (LinearSiteModule) a.instance().modules().get(PATH);
        NDArray w0 = linear.rawWeight().duplicate();
        NDArray b0 = linear.bias().orElseThrow().duplicate();
        NDArray merged = c.expected(m, "merged_weight");
        NDArray delta = c.expected().has("delta_weight") ? c.expected(m, "delta_weight") : merged.sub(w0);
        c.assertClose("delta_weight", site.deltaWeight(linear).orElseThrow(), delta);
        linear.merge("default");
        c.assertClose("merged_weight", linear.rawWeight(), merged);
        c.assertClose("merged_bias", linear.bias().orElseThrow(), c.expected(m, "merged_bias"));
        linear.unmergeAll();
        c.assertClose("unmerged weight", linear.rawWeight(), w0);
        c.assertClose("unmerged bias", linear.bias().orElseThrow(), b0);
    }

    /** The saved key names of a LoRA adapter on the case's module paths, with and without lora_bias. */
    static void stateDictKeys(GoldenCase c, Adapter lora, NDManager m) {
        checkKeys(c, lora, m, "lora", Map.of());
        checkKeys(c, lora, m, "lora_with_lora_bias", Map.of("lora_bias", true));
    }

    static void checkKeys(GoldenCase c, Adapter method, NDManager m, String expectedKey, Map<String, Object> extra) {
        List<String> paths = new ArrayList<>();
        c.config().get("target_module_paths").forEach(p -> paths.add(p.asText()));
        SingleLinearHost host = new SingleLinearHost(m);
        for (String p : paths) {
            host.add(p, m.randomNormal(new ai.djl.ndarray.types.Shape(12, 16)), null);
        }
        Map<String, Object> cfg = new LinkedHashMap<>(extra);
        cfg.put("r", 4);
        cfg.put("target_modules", paths);
        AdapterConfig config = AdapterConfigCodec.parseLenient(method, cfg, c.name());
        AttachedAdapter a = new PeftModel(host, n -> Optional.empty()).addAdapter("default", method, config, 0);
        List<String> expected = new ArrayList<>();
        c.expected().get(expectedKey).forEach(k -> expected.add(k.asText()));
        assertThat(a.instance().stateDict().keySet()).as(c.name() + ": " + expectedKey)
                .containsExactlyInAnyOrderElementsOf(expected);
    }
}
