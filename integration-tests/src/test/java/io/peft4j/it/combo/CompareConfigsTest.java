package io.peft4j.it.combo;

import static org.assertj.core.api.Assertions.assertThat;

import io.peft4j.core.config.RunConfig;
import io.peft4j.core.config.RunConfigParser;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.run.RunConfigValidator;
import io.peft4j.core.run.TuningSession;
import io.peft4j.it.support.Dist;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The bundled compare set parses, validates against the distribution's plugins and opens, with equal budgets. */
class CompareConfigsTest {
    static final List<String> NAMES = List.of("lora", "bottleneck", "prefix", "prompt", "lora_bottleneck",
            "lora_prefix", "lora_prompt", "lora_pruned50");

    static RunConfig bundled(String name) throws Exception {
        try (InputStream in = RunConfig.class.getResourceAsStream("/io/peft4j/bundled/compare/" + name + ".yaml")) {
            assertThat(in).as(name).isNotNull();
            return RunConfigParser.parse(new String(in.readAllBytes(), StandardCharsets.UTF_8), true);
        }
    }

    @Test
    void everyCompareConfigOpensWithTheSameBudget() throws Exception {
        try (PluginRuntime rt = PluginRuntime.start(Dist.pluginsDir())) {
            RunConfig.TrainingSection first = bundled(NAMES.get(0)).training();
            for (String name : NAMES) {
                RunConfig cfg = bundled(name);
                assertThat(cfg.training()).as(name).isEqualTo(first);
                assertThat(cfg.data()).as(name).isEqualTo(bundled(NAMES.get(0)).data());
                try (TuningSession s = TuningSession.open(RunConfigValidator.validate(cfg, rt.extensions()),
                        rt.extensions())) {
                    assertThat(s.peft().trainableParameters()).as(name).isNotEmpty();
                }
            }
        }
    }
}
