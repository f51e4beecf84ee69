package io.peft4j.it.combo;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import io.peft4j.api.ConfigException;
import io.peft4j.core.config.RunConfigParser;
import io.peft4j.core.model.PlatformForwardContext;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.run.RunConfigValidator;
import io.peft4j.core.run.TuningSession;
import io.peft4j.it.support.Dist;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The bad-input cases of issue #5, each failing before training with a message naming the field. */
class BadInputTest {
    private static PluginRuntime rt;

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() {
        rt = PluginRuntime.start(Dist.pluginsDir());
    }

    @AfterAll
    static void stop() {
        rt.close();
    }

    @Test
    void prefixPlusSequenceLongerThanTheContext() {
        var cfg = Combos.run("- {method: prefix_tuning, num_virtual_tokens: 40}", 1, 0.01, "", tmp);
        var plan = RunConfigValidator.validate(cfg, rt.extensions());   // max_seq_len 80 + 40 fits
        try (TuningSession s = TuningSession.open(plan, rt.extensions()); NDManager m = NDManager.newBaseManager()) {
            long[] ids = new long[480];
            java.util.Arrays.fill(ids, 261);
            assertThatThrownBy(() -> s.model().forward(m.create(ids).reshape(1, 480), null, null,
                    PlatformForwardContext.eval(m))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("40 prefix-tuning virtual tokens").hasMessageContaining("520")
                    .hasMessageContaining("max_position_embeddings = 512");
        }
        assertThatThrownBy(() -> RunConfigValidator.validate(Combos.run(
                "- {method: prefix_tuning, num_virtual_tokens: 480}", 1, 0.01, "", tmp), rt.extensions()))
                .isInstanceOf(ConfigException.class).hasMessageContaining("training.max_seq_len")
                .hasMessageContaining("lower max_seq_len to at most 32");
    }

    @Test
    void bottleneckPlacementTheArchitectureDoesNotHave() {
        assertThatThrownBy(() -> RunConfigValidator.validate(Combos.run(
                "- {method: bottleneck, adapter_placement: [mlp, cross_attention]}", 1, 0.01, "", tmp),
                rt.extensions())).isInstanceOf(ConfigException.class)
                .hasMessageContaining("adapters[0].adapter_placement").hasMessageContaining("cross_attention")
                .hasMessageContaining("[attention, mlp]");
    }

    @Test
    void promptInitTextLongerThanThePrompt() {
        var plan = RunConfigValidator.validate(Combos.run("- {method: prompt_tuning, num_virtual_tokens: 2, "
                + "prompt_tuning_init: TEXT, prompt_tuning_init_text: Once upon a time there was a girl}", 1, 0.01,
                "", tmp), rt.extensions());
        assertThatThrownBy(() -> TuningSession.open(plan, rt.extensions())).isInstanceOf(ConfigException.class)
                .hasMessageContaining("prompt_tuning_init_text").hasMessageContaining("more than num_virtual_tokens = 2");
    }

    @Test
    void sparsityOutsideTheUnitInterval() {
        for (String s : new String[] {"1.0", "-0.5", "2"}) {
            assertThatThrownBy(() -> RunConfigParser.parse("pruning: {method: mlp_channels, sparsity: " + s + "}",
                    true)).isInstanceOf(ConfigException.class).hasMessageContaining("pruning.sparsity");
        }
    }

    @Test
    void structuredPruningThatRemovesEveryChannelOfALayer() {
        assertThatThrownBy(() -> RunConfigValidator.validate(Combos.run("- {method: lora}", 1, 0.01,
                "pruning: {method: heads, sparsity: 0.9}", tmp), rt.extensions()))
                .isInstanceOf(ConfigException.class).hasMessageContaining("pruning.sparsity")
                .hasMessageContaining("would remove all 4 key/value head groups");
    }
}
