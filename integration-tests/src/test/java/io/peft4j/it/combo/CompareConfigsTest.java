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
    /** Issue #3's single-method set and issue #5's combination set (lora_qv is the reference for the combinations). */
    static final List<String> NAMES = List.of("lora", "rslora", "dora", "vera", "adalora", "pissa", "milora",
            "loraplus", "full", "qlora", "lora_qv", "bottleneck", "prefix", "prompt", "lora_bottleneck", "lora_prefix",
            "lora_prompt", "lora_pruned50");

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
                RunConfig.TrainingSection t = cfg.training();
                assertThat(List.of(t.steps(), t.batchSize(), t.maxSeqLen(), t.warmupSteps(), t.schedule(), t.seed()))
                        .as(name + ": same budget").isEqualTo(List.of(first.steps(), first.batchSize(),
                                first.maxSeqLen(), first.warmupSteps(), first.schedule(), first.seed()));
                assertThat(cfg.data()).as(name).isEqualTo(bundled(NAMES.get(0)).data());
                try (TuningSession s = TuningSession.open(RunConfigValidator.validate(cfg, rt.extensions()),
                        rt.extensions())) {
                    assertThat(s.peft().trainableParameters()).as(name).isNotEmpty();
                }
            }
        }
    }
}
