package io.peft4j.it.support;

import io.peft4j.core.config.RunConfig;
import io.peft4j.core.config.RunConfigParser;
import java.nio.file.Path;

/** Small run configurations on the bundled stories260K and demo data. */
public final class Runs {
    private Runs() {
    }

    /** LoRA (or another method's settings) on stories260K, a few steps on the bundled demo data. */
    public static RunConfig yaml(String adaptersYaml, int steps, Path out) {
        String yaml = """
                model: {path: "bundled:stories260K"}
                adapters:
                %s
                optimizer: {lr: 0.005}
                training: {steps: %d, batch_size: 8, max_seq_len: 80, warmup_steps: 2, log_every: 1, seed: 7,
                           progress_bar: false}
                data: {train: "bundled:demo/train.jsonl", eval: "bundled:demo/eval.jsonl"}
                output: {dir: "%s"}
                """.formatted(adaptersYaml.indent(2), steps, out.toString().replace("\\", "/"));
        return RunConfigParser.parse(yaml, true);
    }

    public static RunConfig lora(int steps, Path out) {
        return yaml("- {name: default, method: lora, r: 4, lora_alpha: 8, target_modules: [q_proj, v_proj, down_proj]}",
                steps, out);
    }
}
