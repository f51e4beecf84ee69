package io.peft4j.bench;

import io.peft4j.core.config.RunConfig;
import io.peft4j.core.config.RunConfigParser;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.run.Bundled;
import io.peft4j.core.run.CompareRun;
import io.peft4j.core.run.RunConfigValidator;
import io.peft4j.core.run.TuningSession;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The eval-loss half of "quantized vs float32 base" (issue #4): the bundled demo task's LoRA run
 * ({@code bundled:compare/lora.yaml}: stories260K, all-linear r=8) trained once on the float32 base and once on the
 * base quantized by the given quantizer, with the same data, steps, seed and learning rate, in this process; and, when
 * the loftq plugin is installed, once more on the quantized base with LoftQ initialisation ({@code loftq_iter_5}).
 * One JSON record: the eval losses after training, {@code rel_diff = quant / fp32 - 1} and whether it is within the
 * 2 % target (for LoftQ: or below the float32 run), plus the task scores.
 */
final class QuantEvalLoss {
    static final String CONFIG = "bundled:compare/lora.yaml";
    static final double TARGET_REL_DIFF = 0.02;
    static final String LOFTQ = "loftq_iter_5";

    private QuantEvalLoss() {
    }

    static Map<String, Object> run(String quantizer, int steps, PluginRuntime runtime) throws IOException {
        Path work = Files.createTempDirectory("peft4j-quant-eval");
        RunConfig base = RunConfigParser.parse(Bundled.file(CONFIG, "config"));
        base = base.withTraining(base.training().withSteps(steps).withProgressBar(false));
        CompareRun.Result fp32 = train("fp32", base.withOutputDir(work.resolve("fp32").toString()), runtime);
        RunConfig quant = new RunConfig(base.model(), new RunConfig.QuantizationSection(quantizer, Map.of()),
                base.adapters(), base.optimizer(), base.training(), base.data(), base.output(), base.pruning())
                .withOutputDir(work.resolve(quantizer).toString());
        CompareRun.Result q = train(quantizer, quant, runtime);
        // The same quantized run with LoftQ initialisation (5 alternations), when the loftq plugin is installed.
        CompareRun.Result loftq = null;
        if (runtime.extensions().initializerFor(LOFTQ).isPresent()) {
            RunConfig.AdapterSection a = quant.adapters().get(0);
            loftq = train(quantizer + "+loftq", quant.withAdapters(List.of(
                    new RunConfig.AdapterSection(a.name(), a.method(), LOFTQ, a.rankAllocator(), a.settings())))
                    .withOutputDir(work.resolve(quantizer + "-loftq").toString()), runtime);
        }
        Map<String, Object> rec = new LinkedHashMap<>();
        rec.put("kind", "quant_eval_loss");
        rec.put("config", CONFIG);
        rec.put("quant", quantizer);
        rec.put("steps", steps);
        rec.put("eval_loss_before_fp32", Json.round(fp32.evalLossBefore(), 4));
        rec.put("eval_loss_before_quant", Json.round(q.evalLossBefore(), 4));
        rec.put("eval_loss_fp32", Json.round(fp32.evalLossAfter(), 4));
        rec.put("eval_loss_quant", Json.round(q.evalLossAfter(), 4));
        double rel = q.evalLossAfter() / fp32.evalLossAfter() - 1;
        rec.put("rel_diff", Json.round(rel, 4));
        rec.put("target_rel_diff", TARGET_REL_DIFF);
        rec.put("within_target", Math.abs(rel) <= TARGET_REL_DIFF);
        if (loftq != null) {
            rec.put("eval_loss_before_quant_loftq", Json.round(loftq.evalLossBefore(), 4));
            rec.put("eval_loss_quant_loftq", Json.round(loftq.evalLossAfter(), 4));
            double relLoftq = loftq.evalLossAfter() / fp32.evalLossAfter() - 1;
            rec.put("rel_diff_loftq", Json.round(relLoftq, 4));
            rec.put("within_target_loftq", Math.abs(relLoftq) <= TARGET_REL_DIFF || relLoftq < 0);
        }
        rec.put("task_score_fp32", fp32.taskScoreAfter());
        rec.put("task_score_quant", q.taskScoreAfter());
        rec.put("train_tokens_per_s_fp32", Json.round(fp32.trainTokensPerSecond(), 1));
        rec.put("train_tokens_per_s_quant", Json.round(q.trainTokensPerSecond(), 1));
        rec.put("output_dir", work.toString());
        return rec;
    }

    private static CompareRun.Result train(String name, RunConfig cfg, PluginRuntime runtime) {
        try (TuningSession s = TuningSession.open(RunConfigValidator.validate(cfg, runtime.extensions()),
                runtime.extensions())) {
            return CompareRun.run(name, s);
        }
    }
}
