package io.peft4j.it.golden;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peft4j.api.Adapter;
import io.peft4j.api.ConfigException;
import io.peft4j.core.peft.AdapterConfigCodec;
import io.peft4j.core.peft.PeftModel;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.it.support.Dist;
import java.io.InputStream;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * PEFT's {@code bias: all | lora_only} and {@code modules_to_save} train parts of the base model; peft4j implements
 * neither, so adapters that need them are refused with a message naming the field instead of being loaded (or
 * trained) without them. The configs are the {@code adapter_config.json} files Hugging Face PEFT 0.14 wrote
 * ({@code tools/interop/generate_edge_cases.py}, {@code resources/peft-written/base_training_options.json}: q_proj
 * targeted, v_proj not, both with biases, plus an lm_head).
 */
class BaseTrainingOptionsTest {
    private static final String Q = "model.layers.0.self_attn.q_proj";
    private static final String V = "model.layers.0.self_attn.v_proj";
    private static PluginRuntime runtime;
    private static JsonNode cases;

    @BeforeAll
    static void start() throws Exception {
        runtime = PluginRuntime.start(Dist.pluginsDir());
        try (InputStream in = BaseTrainingOptionsTest.class.getResourceAsStream(
                "/peft-written/base_training_options.json")) {
            cases = new ObjectMapper().readTree(in).get("cases");
        }
    }

    @AfterAll
    static void stop() {
        runtime.close();
    }

    private static Map<String, Object> peftConfig(String label) {
        return new ObjectMapper().convertValue(cases.get(label).get("adapter_config"), new TypeReference<>() { });
    }

    /** Adds PEFT's adapter config to a host whose q_proj / v_proj have biases or not. */
    private static void add(String label, boolean qBias, boolean vBias) {
        Adapter lora = runtime.extensions().adapter("lora").orElseThrow();
        try (NDManager m = NDManager.newBaseManager()) {
            SingleLinearHost host = new SingleLinearHost(m);
            host.add(Q, m.randomNormal(new Shape(8, 8)), qBias ? m.zeros(new Shape(8)) : null);
            host.add(V, m.randomNormal(new Shape(8, 8)), vBias ? m.zeros(new Shape(8)) : null);
            new PeftModel(host, n -> Optional.empty()).addAdapter("default", lora,
                    AdapterConfigCodec.parseLenient(lora, peftConfig(label), label), 0);
        }
    }

    @Test
    void peftTrainsAndSavesTheBasesBiasesWithBiasAll() {
        // What PEFT does with the option (so what accepting it silently would lose).
        assertThat(cases.get("bias_all").get("saved_keys").toString())
                .contains("base_model.model." + Q + ".base_layer.bias", "base_model.model." + V + ".bias");
        assertThat(cases.get("modules_to_save").get("saved_keys").toString()).contains("base_model.model.lm_head.weight");
    }

    @Test
    void biasAllIsRefusedWhenTheModelHasAnyBiasEvenOutsideTheTargets() {
        assertThatThrownBy(() -> add("bias_all", true, true)).isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("bias:").hasMessageContaining("\"all\"").hasMessageContaining(Q);
        assertThatThrownBy(() -> add("bias_all", false, true)).isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("bias:").hasMessageContaining(V);
    }

    @Test
    void loraOnlyIsRefusedOnlyWhenATargetedLayerHasABias() {
        assertThatThrownBy(() -> add("bias_lora_only", true, false)).isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("bias:").hasMessageContaining("lora_only").hasMessageContaining(Q);
        add("bias_lora_only", false, true);   // only the untargeted v_proj has one: PEFT trains nothing extra
    }

    @Test
    void biasOptionsThatSelectNoBiasAreAccepted() {
        // Llama models (stories260K) have no linear biases: PEFT trains and saves nothing extra either.
        add("bias_all", false, false);
        add("bias_lora_only", false, false);
    }

    @Test
    void modulesToSaveIsRefusedNamingTheField() {
        assertThatThrownBy(() -> add("modules_to_save", false, false)).isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("modules_to_save:").hasMessageContaining("lm_head");
    }
}
