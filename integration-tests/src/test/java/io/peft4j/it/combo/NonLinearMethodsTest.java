package io.peft4j.it.combo;

import static io.peft4j.it.combo.Combos.assertLossFalls;
import static io.peft4j.it.combo.Combos.logits;
import static io.peft4j.it.combo.Combos.maxAbsDiff;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.peft4j.core.config.RunConfig;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.run.RunConfigValidator;
import io.peft4j.core.run.RunPlan;
import io.peft4j.core.run.TuningSession;
import io.peft4j.it.support.Dist;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Each non-linear method alone, from the distribution's plugins: trains a few steps on stories260K (loss falls),
 * saves, and reloads in a fresh platform to identical logits.
 */
class NonLinearMethodsTest {
    @TempDir
    Path tmp;

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "bottleneck | - {method: bottleneck, adapter_placement: [attention, mlp], bottleneck_size: 8, non_linearity: gelu} | 0.005 | BOTTLENECK",
        "prefix_tuning | - {method: prefix_tuning, num_virtual_tokens: 8, prefix_projection: true, encoder_hidden_size: 16} | 0.005 | PREFIX_TUNING",
        "prompt_tuning | - {method: prompt_tuning, num_virtual_tokens: 8, prompt_tuning_init: TEXT, prompt_tuning_init_text: Once upon a time} | 0.02 | PROMPT_TUNING"
    })
    void trainsSavesAndReloads(String method, String adapterYaml, double lr, String peftType) throws Exception {
        Path out = tmp.resolve(method);
        RunConfig cfg = Combos.run(adapterYaml, 20, lr, "", out);
        float[] base;
        float[] trained;
        try (PluginRuntime rt = PluginRuntime.start(Dist.pluginsDir())) {
            RunPlan plan = RunConfigValidator.validate(cfg, rt.extensions());
            try (TuningSession s = TuningSession.open(plan, rt.extensions())) {
                s.peft().setActive(List.of());
                base = logits(s.model());
                s.peft().setActive(List.of("default"));
                if (!method.equals("prompt_tuning") && !method.equals("prefix_tuning")) {
                    assertThat(logits(s.model())).as("near-identity init").containsExactly(base);
                }
                TuningSession.Outcome o = s.train();
                assertLossFalls(o.training().losses());
                assertThat(o.evalAfter().loss()).isLessThan(o.evalBefore().loss());
                trained = logits(s.model());
                assertThat(maxAbsDiff(trained, base)).isGreaterThan(1e-3);
            }
        }
        Path adapter = out.resolve("adapter");
        Map<?, ?> json = new ObjectMapper().readValue(adapter.resolve("adapter_config.json").toFile(), Map.class);
        assertThat(json.get("peft_type")).isEqualTo(peftType);
        try (PluginRuntime rt = PluginRuntime.start(Dist.pluginsDir());
             TuningSession s = TuningSession.open(RunConfigValidator.validate(Combos.run("[]", 1, lr, "",
                     tmp.resolve("bare")), rt.extensions()), rt.extensions())) {
            assertThat(Combos.loadAll(s, rt.extensions(), adapter)).containsExactly("default");
            s.peft().setActive(List.of("default"));
            float[] reloaded = logits(s.model());
            if (method.equals("prefix_tuning")) {
                // Trained through the MLP, reloaded from the folded table: the same float32 computation order.
                assertThat(maxAbsDiff(reloaded, trained)).isLessThan(1e-5);
            } else {
                assertThat(reloaded).containsExactly(trained);
            }
        }
    }
}
