package io.peft4j.it.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.training.GradientCollector;
import io.peft4j.api.Parameter;
import io.peft4j.core.config.RunConfigParser;
import io.peft4j.core.model.PlatformForwardContext;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.run.RunConfigValidator;
import io.peft4j.core.run.TuningSession;
import io.peft4j.core.model.loss.CausalLmLoss;
import io.peft4j.core.train.optim.AdamW;
import io.peft4j.it.support.Dist;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Activation checkpointing ({@code training.gradient_checkpointing}) and the fused lm_head + loss must give the
 * gradients of the ordinary backward pass - for every kind of attachment site (LoRA on linears, a bottleneck after the MLP, prefix tuning with
 * its reparameterisation MLP, prompt tuning on the input embeddings), with padding in the batch, on a float32 and
 * on an NF4 base - and a run with it must train.
 */
class GradientCheckpointingTest {
    // Two rows, the second left-padded (0 in the mask), so the padding-mask path is exercised too.
    private static final long[][] IDS = {{1, 403, 407, 261, 378, 432, 383, 286, 261}, {0, 0, 1, 403, 261, 378, 432, 9, 2}};
    private static final long[][] MASK = {{1, 1, 1, 1, 1, 1, 1, 1, 1}, {0, 0, 1, 1, 1, 1, 1, 1, 1}};

    @TempDir
    Path tmp;

    private static final String ALL_SITES = """
            - {name: attn, method: lora, r: 4, lora_alpha: 8, target_modules: [q_proj, v_proj, o_proj, down_proj]}
            - {name: ffn, method: bottleneck, bottleneck_size: 8, adapter_placement: [mlp]}
            - {name: prefix, method: prefix_tuning, num_virtual_tokens: 3, prefix_projection: true,
               encoder_hidden_size: 16}
            - {name: prompt, method: prompt_tuning, num_virtual_tokens: 2}
            """;

    @Test
    void gradientsEqualThoseOfTheOrdinaryBackwardForEverySiteKind() throws Exception {
        compareGradients(ALL_SITES, "");
    }

    @Test
    void gradientsEqualThoseOfTheOrdinaryBackwardOnAnNf4Base() throws Exception {
        compareGradients("""
                - {name: attn, method: lora, r: 4, lora_alpha: 8, target_modules: all-linear}
                """, "quantization: {method: nf4}");
    }

    /** LoRA on lm_head itself: the loss cannot be fused (lm_head trains), the autograd head path is used. */
    @Test
    void gradientsEqualThoseOfTheOrdinaryBackwardWithAnAdapterOnLmHead() throws Exception {
        compareGradients("- {name: attn, method: lora, r: 4, lora_alpha: 8, target_modules: [q_proj, lm_head]}\n",
                "");
    }

    @Test
    void aCheckpointedRunTrainsAndIsDeterministic() throws Exception {
        double[] first = trainLosses(true, "a");
        double[] again = trainLosses(true, "b");
        assertThat(again).containsExactly(first);
        assertThat(first[first.length - 1]).isLessThan(first[0]);
    }

    private double[] trainLosses(boolean checkpointing, String dir) throws Exception {
        String yaml = """
                model: {path: "bundled:stories260K"}
                adapters:
                  - {name: attn, method: lora, r: 8, lora_alpha: 16, lora_dropout: 0.1, target_modules: all-linear}
                optimizer: {lr: 0.003}
                training: {steps: 8, batch_size: 8, max_seq_len: 80, log_every: 1, seed: 5, progress_bar: false,
                           gradient_checkpointing: %s}
                data: {train: "bundled:demo/train.jsonl", eval: "bundled:demo/eval.jsonl"}
                output: {dir: "%s"}
                """.formatted(checkpointing, tmp.resolve(dir).toString().replace("\\", "/"));
        try (PluginRuntime rt = PluginRuntime.start(Dist.pluginsDir());
             TuningSession s = TuningSession.open(RunConfigValidator.validate(RunConfigParser.parse(yaml, true),
                     rt.extensions()), rt.extensions())) {
            return s.train().training().losses().stream().mapToDouble(Double::doubleValue).toArray();
        }
    }

    private void compareGradients(String adapters, String extra) throws Exception {
        String yaml = """
                model: {path: "bundled:stories260K"}
                adapters:
                %s
                training: {steps: 1, batch_size: 2, progress_bar: false}
                data: {train: "bundled:demo/train.jsonl"}
                output: {dir: "%s"}
                %s
                """.formatted(adapters.indent(2), tmp.resolve("out").toString().replace("\\", "/"), extra);
        try (PluginRuntime rt = PluginRuntime.start(Dist.pluginsDir());
             TuningSession s = TuningSession.open(RunConfigValidator.validate(RunConfigParser.parse(yaml, true),
                     rt.extensions()), rt.extensions());
             NDManager m = NDManager.newBaseManager()) {
            List<Parameter> params = s.peft().trainableParameters();
            assertThat(params).isNotEmpty();
            // Zero-initialised up-projections would make every down-projection gradient 0: move away from the init.
            Engine.getInstance().setRandomSeed(3);
            for (Parameter p : params) {
                NDArray v = p.value();
                v.set(new NDIndex("..."), v.add(m.randomNormal(0, 0.05f, v.getShape(), v.getDataType())));
                v.setRequiresGradient(true);   // as the trainer does when it starts
            }
            NDArray ids = m.create(IDS);
            NDArray mask = m.create(MASK);
            Function<NDArray, NDArray> loss = logits -> CausalLmLoss.mean(logits, ids);

            Map<String, float[]> plain = new LinkedHashMap<>();
            float plainLoss;
            try (NDManager sm = m.newSubManager(); GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray l = loss.apply(s.model().forward(ids, mask, null, new PlatformForwardContext(true, sm)));
                plainLoss = l.getFloat();
                gc.backward(l);
            }
            for (Parameter p : params) {
                plain.put(p.name(), p.value().getGradient().toFloatArray());
                AdamW.zeroGradient(p.value());
            }
            // fused lm_head + loss with and without checkpointing, and checkpointing with the autograd loss
            record Mode(boolean fused, boolean checkpointing) { }
            for (Mode mode : List.of(new Mode(true, false), new Mode(true, true), new Mode(false, true))) {
                s.model().setFusedCrossEntropy(mode.fused());
                float modeLoss;
                try (NDManager sm = m.newSubManager();
                     GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    modeLoss = s.model().causalLmBackward(ids, mask, ids, 1.0 / CausalLmLoss.countedTokens(ids),
                            new PlatformForwardContext(true, sm), gc, mode.checkpointing());
                }
                assertThat(modeLoss).as("%s loss", mode).isCloseTo(plainLoss, Offset.offset(1e-5f));
                for (Parameter p : params) {
                    float[] want = plain.get(p.name());
                    float[] got = p.value().getGradient().toFloatArray();
                    AdamW.zeroGradient(p.value());
                    double scale = 0;
                    for (float v : want) {
                        scale = Math.max(scale, Math.abs(v));
                    }
                    assertThat(scale).as("gradient of %s is not zero", p.name()).isPositive();
                    for (int i = 0; i < want.length; i++) {
                        assertThat((double) Math.abs(got[i] - want[i])).as("%s %s[%d]", mode, p.name(), i)
                                .isLessThanOrEqualTo(1e-5 * scale + 1e-7);
                    }
                }
            }
            s.model().setFusedCrossEntropy(true);
        }
    }
}
