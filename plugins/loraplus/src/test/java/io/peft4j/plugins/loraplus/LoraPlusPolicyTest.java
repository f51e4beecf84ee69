package io.peft4j.plugins.loraplus;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.ConfigException;
import io.peft4j.api.OptimizerSettings;
import io.peft4j.api.ParamGroup;
import io.peft4j.api.ParamRole;
import io.peft4j.api.Parameter;
import java.util.List;
import org.junit.jupiter.api.Test;

class LoraPlusPolicyTest {
    private static final OptimizerSettings BASE = new OptimizerSettings(1e-3, 0.05, 0.9, 0.999, 1e-8);
    private final LoraPlusPolicy policy = new LoraPlusPolicy();

    @Test
    void defaultsRatio16EmbeddingLr1e6AndNoDecay() {
        try (NDManager m = NDManager.newBaseManager()) {
            Parameter a = new Parameter("x.lora_A.default.weight", m.zeros(new Shape(4, 8)), ParamRole.DOWN, true);
            Parameter b = new Parameter("x.lora_B.default.weight", m.zeros(new Shape(8, 4)), ParamRole.UP, true);
            Parameter mag = new Parameter("x.lora_magnitude_vector.default.weight", m.zeros(new Shape(8)),
                    ParamRole.MAGNITUDE, true);
            List<ParamGroup> g = policy.group(List.of(a, b, mag), BASE, LoraPlusOptions.defaults());
            assertThat(g).extracting(ParamGroup::name)
                    .containsExactly("groupA", "embedding", "groupB", "groupB_no_decay");
            assertThat(g.get(0).parameters()).containsExactly(a);
            assertThat(g.get(0).lr()).isEqualTo(1e-3);
            assertThat(g.get(0).weightDecay()).isZero();
            assertThat(g.get(1).lr()).isEqualTo(1e-6);
            assertThat(g.get(2).parameters()).containsExactly(b, mag);
            assertThat(g.get(2).lr()).isEqualTo(1e-3 * 16);
            assertThat(g.get(3).parameters()).isEmpty();
        }
    }

    @Test
    void badOptionsAndMissingRolesAreConfigErrors() {
        try (NDManager m = NDManager.newBaseManager()) {
            Parameter b = new Parameter("x.lora_B.default.weight", m.zeros(new Shape(8, 4)), ParamRole.UP, true);
            assertThatThrownBy(() -> policy.group(List.of(b), BASE, new LoraPlusOptions(0.0, null, null)))
                    .isInstanceOf(ConfigException.class).hasMessageStartingWith("loraplus_lr_ratio:");
            assertThatThrownBy(() -> new LoraPlusOptions(-2.0, null, null).validate())
                    .isInstanceOf(ConfigException.class).hasMessageContaining("must be > 0");
            assertThatThrownBy(() -> new LoraPlusOptions(null, -1e-6, null).validate())
                    .isInstanceOf(ConfigException.class).hasMessageStartingWith("loraplus_lr_embedding:");
            assertThatThrownBy(() -> new LoraPlusOptions(null, null, -0.1).validate())
                    .isInstanceOf(ConfigException.class).hasMessageStartingWith("loraplus_weight_decay:");
            assertThat(policy.group(List.of(b), BASE, new LoraPlusOptions(4.0, null, null)).get(2).lr())
                    .isEqualTo(1e-3 * 4);
            Parameter v = new Parameter("x.vera_lambda_b.default", m.zeros(new Shape(8)), ParamRole.VECTOR, true);
            assertThatThrownBy(() -> policy.group(List.of(v), BASE, LoraPlusOptions.defaults()))
                    .isInstanceOf(ConfigException.class).hasMessageContaining("UP role");
        }
    }
}
