package io.peft4j.it.golden;

import io.peft4j.plugins.testkit.GoldenCase;
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
                AdapterConfigCodec.parseLenient(dora, cfg, c.name()), 0);
        c.assertClose("magnitude_when_B_zero", magnitude(fresh), c.expected(m, "magnitude_when_B_zero"));

        Initializer given = new GivenFactors(c.input(m, "lora_A"), c.input(m, "lora_B"));
        cfg.put("init_lora_weights", GivenFactors.ID);
        SingleLinearHost host2 = new SingleLinearHost(m);
        host2.add(PATH, c.input(m, "weight"), null);
        AttachedAdapter init = new PeftModel(host2, n -> given.handles(n) ? Optional.of(given) : Optional.empty())
                .addAdapter("default", dora, AdapterConfigCodec.parseLenient(dora, cfg, c.name()), 0);
        if (c.config().has("scaling")) {
            LowRankSite site = (LowRankSite) init.instance().modules().get(PATH);
            c.assertClose("scaling", site.scaling(), c.config().get("scaling").asDouble());
        }
        c.assertClose("magnitude", magnitude(init), c.expected(m, "magnitude"));
    }

    private static NDArray magnitude(AttachedAdapter a) {
        return a.instance().stateDict().get(PeftKeys.saved(PATH, MAGNITUDE_KEY));
    }

    /** The DoRA part of {@code peft_state_dict_keys}. */
    static void stateDictKeys(GoldenCase c, Adapter dora, NDManager m) {
        LoraFamilyCases.checkKeys(c, dora, m, "dora", Map.of());
        AdapterConfig cfg = AdapterConfigCodec.parseLenient(dora, Map.of("r", 4, "target_modules", List.of("q_proj")),
                c.name());
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
