package io.peft4j.spark;

import static org.assertj.core.api.Assertions.assertThat;

import io.peft4j.core.config.RunConfig;
import io.peft4j.core.config.RunConfigParser;
import org.junit.jupiter.api.Test;

/** The driver ships its configuration to executors as JSON text: it must read back as the same configuration. */
class ConfigJsonTest {
    @Test
    void everySectionRoundTrips() {
        String yaml = """
                model: {path: 'bundled:stories260K', device: cpu}
                quantization: {method: nf4, options: {blocksize: 64, double_quant: true}}
                adapters:
                  - {name: a, method: lora, initializer: pissa, r: 8, lora_alpha: 16, lora_dropout: 0.05,
                     target_modules: [q_proj, v_proj], rank_pattern: {"layers\\\\.0\\\\..*": 4}}
                  - {method: adalora, rank_allocator: {id: adalora, tinit: 3}, target_r: 2}
                optimizer: {lr: 0.002, betas: [0.8, 0.99], policy: {id: loraplus, loraplus_lr_ratio: 16}}
                training: {steps: 7, batch_size: 3, grad_accumulation: 4, seed: 11, gradient_checkpointing: true}
                data: {train: t.jsonl, eval_fraction: 0.1, shuffle: false}
                output: {dir: out, convert_to_lora: true}
                pruning: {method: magnitude, sparsity: 0.5}
                """;
        RunConfig cfg = RunConfigParser.parse(yaml, true);
        assertThat(ConfigJson.read(ConfigJson.write(cfg))).isEqualTo(cfg);
    }
}
