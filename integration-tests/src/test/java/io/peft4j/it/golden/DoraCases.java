package io.peft4j.it.golden;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.peft4j.api.Adapter;
import io.peft4j.api.AdapterConfig;
import io.peft4j.api.AdapterContext;
import io.peft4j.api.Initializer;
import io.peft4j.api.LinearBase;
import io.peft4j.api.LinearSiteModule;
import io.peft4j.api.LowRankSite;
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
import static org.assertj.core.api.Assertions.assertThat;
import io.peft4j.plugins.testkit.TestForwardContext;

/**
 * Golden cases of DoRA ({@code dora_*}), run through the SPI like {@link LoraFamilyCases}: the installed "dora"
 * method parses the case config, attaches to a real {@link AdaptableLinear}, loads the case's tensors under PEFT's
 * saved key names ({@code lora_magnitude_vector} without {@code .weight}), then initialises, forwards or merges.
 */
final class DoraCases {
    static final String PATH = LoraFamilyCases.PATH;
    static final String MAGNITUDE_KEY = "lora_magnitude_vector";

    private DoraCases() {
    }

    private static Map<String, NDArray> savedTensors(GoldenCase c, NDManager m) {
        Map<String, NDArray> saved = new HashMap<>();
        saved.put(PeftKeys.saved(PATH, "lora_A.weight"), c.input(m, "lora_A"));
        saved.put(PeftKeys.saved(PATH, "lora_B.weight"), c.input(m, "lora_B"));
        saved.put(PeftKeys.saved(PATH, MAGNITUDE_KEY), c.input(m, "magnitude"));
        return saved;
    }

    /**
     * {@code dora_init_magnitude}: with the default init (B = 0) the magnitude is the row norm of W; with the case's
     * A and B installed by an initializer (the path PiSSA takes) it is {@code ||W + s·B A||_row}.
     */
    static void initMagnitude(GoldenCase c, Adapter dora, NDManager m) {
        Map<String, Object> cfg = new LinkedHashMap<>(c.configMap());
        cfg.put("target_modules", List.of("q_proj"));

        SingleLinearHost host = new SingleLinearHost(m);
        host.add(PATH, c.input(m, "weight"), null);
        AttachedAdapter fresh = new PeftModel(host, n -> Optional.empty()).addAdapter("default", dora,
                AdapterConfigCodec.parseLenient(dora, cfg, c.name), 0);
        c.assertClose("magnitude_when_B_zero", magnitude(fresh), c.expectedTensor(m, "magnitude_when_B_zero"));

        Initializer given = new GivenFactors(c.input(m, "lora_A"), c.input(m, "lora_B"));
        cfg.put("init_lora_weights", GivenFactors.ID);
        SingleLinearHost host2 = new SingleLinearHost(m);
        host2.add(PATH, c.input(m, "weight"), null);
        AttachedAdapter init = new PeftModel(host2, n -> given.handles(n) ? Optional.of(given) : Optional.empty())
                .addAdapter("default", dora, AdapterConfigCodec.parseLenient(dora, cfg, c.name), 0);
        if (c.config.has("scaling")) {
            LowRankSite site = (LowRankSite) init.instance().modules().get(PATH);
            c.assertClose("scaling", site.scaling(), c.config.get("scaling").asDouble());
        }
        c.assertClose("magnitude", magnitude(init), c.expectedTensor(m, "magnitude"));
    }

    private static NDArray magnitude(AttachedAdapter a) {
        return a.instance().stateDict().get(PeftKeys.saved(PATH, MAGNITUDE_KEY));
    }

    /** {@code dora_forward_eval} and {@code dora_forward_train_dropout} (keep mask injected). */
    static void forward(GoldenCase c, Adapter dora, NDManager m) {
        SingleLinearHost host = new SingleLinearHost(m);
        AdaptableLinear linear = host.add(PATH, c.input(m, "weight"), c.input(m, "bias"));
        LoraFamilyCases.attach(c, dora, m, host, Map.of(), savedTensors(c, m));
        boolean training = c.config.path("training").asBoolean(false);
        NDArray mask = c.hasInput("dropout_keep_mask") ? c.input(m, "dropout_keep_mask") : null;
        NDArray y = linear.forward(c.input(m, "x"), host.active(), new TestForwardContext(training, m, mask));
        c.assertClose("y", y, c.expectedTensor(m, "y"));
    }

    /**
     * {@code dora_merge}: merged weight and (unchanged) bias; the effective delta weight equals merged minus
     * original; unmerge restores the original weight with the cached norm.
     */
    static void merge(GoldenCase c, Adapter dora, NDManager m) {
        SingleLinearHost host = new SingleLinearHost(m);
        AdaptableLinear linear = host.add(PATH, c.input(m, "weight"), c.input(m, "bias"));
        AttachedAdapter a = LoraFamilyCases.attach(c, dora, m, host, Map.of(), savedTensors(c, m));
        LinearSiteModule site = (LinearSiteModule) a.instance().modules().get(PATH);
        NDArray w0 = linear.rawWeight().duplicate();
        NDArray b0 = linear.bias().orElseThrow().duplicate();
        NDArray merged = c.expectedTensor(m, "merged_weight");
        c.assertClose("effective delta_weight", site.deltaWeight(linear).orElseThrow(), merged.sub(w0));
        linear.merge("default");
        c.assertClose("merged_weight", linear.rawWeight(), merged);
        c.assertClose("merged_bias", linear.bias().orElseThrow(), c.expectedTensor(m, "merged_bias"));
        linear.unmergeAll();
        c.assertClose("unmerged weight", linear.rawWeight(), w0);
        c.assertClose("unmerged bias", linear.bias().orElseThrow(), b0);
    }

    /** The DoRA part of {@code peft_state_dict_keys}. */
    static void stateDictKeys(GoldenCase c, Adapter dora, NDManager m) {
        LoraFamilyCases.checkKeys(c, dora, m, "dora", Map.of());
        AdapterConfig cfg = AdapterConfigCodec.parseLenient(dora, Map.of("r", 4, "target_modules", List.of("q_proj")),
                c.name);
        assertThat(AdapterConfigCodec.toPeftJson(dora, cfg, null)).containsEntry("peft_type", "LORA")
                .containsEntry("use_dora", true);
    }

    /** Installs given factors, as an initializer plugin (PiSSA, MiLoRA) would, leaving the base unchanged. */
    private record GivenFactors(NDArray a, NDArray b) implements Initializer {
        static final String ID = "golden_given_factors";

        @Override
        public String id() {
            return ID;
        }

        @Override
        public String description() {
            return "golden test: installs the case's lora_A / lora_B";
        }

        @Override
        public boolean handles(String initName) {
            return ID.equals(initName);
        }

        @Override
        public void initialize(String initName, LowRankSite site, LinearBase base, AdapterContext ctx) {
            site.setFactors(a, b);
        }
    }
}
