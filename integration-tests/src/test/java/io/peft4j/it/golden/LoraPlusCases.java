package io.peft4j.it.golden;

import io.peft4j.plugins.testkit.GoldenCase;
import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import io.peft4j.api.OptimizerPolicy;
import io.peft4j.core.plugin.Configured;
import io.peft4j.api.OptimizerSettings;
import io.peft4j.api.ParamGroup;
import io.peft4j.api.ParamRole;
import io.peft4j.api.Parameter;
import io.peft4j.core.plugin.InstalledExtensions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Golden case {@code loraplus_param_groups} through the installed "loraplus" {@link OptimizerPolicy}. The case gives
 * PEFT parameter names with their ndim and flags; here each becomes a small tensor labelled with the
 * {@link ParamRole} the owning plugin would give it (lora_A DOWN, lora_B UP, lora_B.bias UP_BIAS, magnitude
 * MAGNITUDE, embedding LoRA EMBEDDING_*, layer norms NORM, modules_to_save weights DENSE and biases BIAS); frozen
 * parameters are left out, as the platform only hands trainable ones to a policy.
 */
final class LoraPlusCases {
    private LoraPlusCases() {
    }

    static ParamRole roleOf(String name, boolean insideLayerNorm) {
        if (name.contains("lora_embedding_A")) {
            return ParamRole.EMBEDDING_DOWN;
        }
        if (name.contains("lora_embedding_B")) {
            return ParamRole.EMBEDDING_UP;
        }
        if (name.contains("lora_A")) {
            return ParamRole.DOWN;
        }
        if (name.contains("lora_B")) {
            return name.endsWith(".bias") ? ParamRole.UP_BIAS : ParamRole.UP;
        }
        if (name.contains("lora_magnitude_vector")) {
            return ParamRole.MAGNITUDE;
        }
        if (insideLayerNorm) {
            return ParamRole.NORM;
        }
        return name.endsWith(".bias") ? ParamRole.BIAS : ParamRole.DENSE;
    }

    static void paramGroups(GoldenCase c, OptimizerPolicy<?> policy, NDManager m) {
        List<Parameter> trainable = new ArrayList<>();
        Map<String, String> assignment = new LinkedHashMap<>();
        for (JsonNode p : c.inputs().get("parameters")) {
            String name = p.get("name").asText();
            assignment.put(name, null);
            if (!p.get("requires_grad").asBoolean()) {
                continue;
            }
            Shape shape = p.get("ndim").asInt() == 1 ? new Shape(4) : new Shape(4, 4);
            trainable.add(new Parameter(name, m.zeros(shape), roleOf(name, p.get("inside_layernorm").asBoolean()),
                    true));
        }
        Map<String, Object> options = new HashMap<>();
        for (String k : List.of("loraplus_lr_ratio", "loraplus_weight_decay", "loraplus_lr_embedding")) {
            options.put(k, c.config().get(k).asDouble());
        }
        // The run's own weight decay must not leak into the groups (PEFT uses loraplus_weight_decay).
        OptimizerSettings base = new OptimizerSettings(c.config().get("lr").asDouble(), 0.5, 0.9, 0.999, 1e-8);
        List<ParamGroup> groups = Configured.policy(policy, options, "optimizer.policy").group(trainable, base);
        for (ParamGroup g : groups) {
            for (Parameter p : g.parameters()) {
                assertThat(assignment.put(p.name(), g.name())).as(c.name() + ": " + p.name() + " in two groups")
                        .isNull();
            }
        }
        Map<String, String> expected = new LinkedHashMap<>();
        c.expected().get("assignment").fields().forEachRemaining(e -> expected.put(e.getKey(),
                e.getValue().isNull() ? null : e.getValue().asText()));
        assertThat(assignment).as(c.name() + ": assignment").isEqualTo(expected);
        JsonNode order = c.expected().get("param_groups_in_order");
        assertThat(groups).as(c.name() + ": groups").hasSize(order.size());
        for (int i = 0; i < order.size(); i++) {
            JsonNode e = order.get(i);
            ParamGroup g = groups.get(i);
            assertThat(g.name()).as(c.name() + ": group " + i).isEqualTo(e.get("name").asText());
            assertThat(g.lr()).as(c.name() + ": lr of " + g.name()).isEqualTo(e.get("lr").asDouble());
            assertThat(g.weightDecay()).as(c.name() + ": weight decay of " + g.name())
                    .isEqualTo(e.get("weight_decay").asDouble());
        }
    }
}
