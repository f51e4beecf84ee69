package io.peft4j.it.golden;

import io.peft4j.plugins.testkit.GoldenCase;
import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.peft4j.api.LowRankUpdate;
import io.peft4j.api.Merger;
import io.peft4j.core.plugin.Configured;
import io.peft4j.plugins.testkit.KeepMaskRandom;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import io.peft4j.plugins.testkit.KeepMaskRandom;

/**
 * The {@code add_weighted_*} golden cases through the installed {@link Merger} {@code weighted}: combined rank
 * (= new r = new lora_alpha, scaling 1), the combined factors, and {@code delta_weight = B A}. SVD results are only
 * defined up to the sign of each singular pair, so there the case gives sign-invariant quantities: delta_weight
 * and the singular values (the column norms of {@code B = U diag(S)}); A must have orthonormal rows. DARE's masks
 * are PEFT's, replayed through the {@code Random} in the order the merger documents (every A mask, then every B).
 */
final class MergingCases {
    private MergingCases() {
    }

    static void run(GoldenCase c, Merger<?> merger, NDManager m) {
        List<String> names = new ArrayList<>();
        c.config().get("adapters").forEach(n -> names.add(n.asText()));
        List<LowRankUpdate> inputs = new ArrayList<>();
        List<Integer> ranks = new ArrayList<>();
        List<NDArray> masksA = new ArrayList<>();
        List<NDArray> masksB = new ArrayList<>();
        for (String n : names) {
            inputs.add(new LowRankUpdate(c.input(m, n + ".lora_A"), c.input(m, n + ".lora_B"),
                    c.config().get(n).get("scaling").asDouble()));
            ranks.add(c.config().get(n).get("r").asInt());
            if (c.hasInput(n + ".lora_A.dare_keep_mask")) {
                masksA.add(c.input(m, n + ".lora_A.dare_keep_mask"));
                masksB.add(c.input(m, n + ".lora_B.dare_keep_mask"));
            }
        }
        List<Double> weights = new ArrayList<>();
        c.config().get("weights").forEach(w -> weights.add(w.asDouble()));
        Map<String, Object> options = new HashMap<>();
        for (String k : List.of("density", "majority_sign_method", "svd_rank", "svd_clamp")) {
            if (c.config().hasNonNull(k)) {
                options.put(k, c.config().get(k).isTextual() ? c.config().get(k).asText() : c.config().get(k).numberValue());
            }
        }
        Configured.Merge<?> configured = Configured.merger(merger, options, "");
        String type = c.config().get("combination_type").asText();
        int rank = configured.combinedRank(type, ranks);
        assertThat(rank).as(c.name() + ": new_r").isEqualTo(c.expected().get("new_r").asInt());
        assertThat(rank).as(c.name() + ": new_lora_alpha (scaling 1)").isEqualTo(c.expected().get("new_lora_alpha").asInt());
        List<NDArray> masks = new ArrayList<>(masksA);
        masks.addAll(masksB);
        Random random = masks.isEmpty() ? new Random(0) : new KeepMaskRandom(masks);
        LowRankUpdate out = configured.combine(type, inputs, weights, rank, random);
        if (random instanceof KeepMaskRandom k) {
            assertThat(k.remaining()).as(c.name() + ": every mask entry drawn once").isZero();
        }
        assertThat(out.scaling()).as(c.name() + ": scaling of the combined update").isEqualTo(1.0);
        if (c.expected().has("lora_A")) {
            c.assertClose("lora_A", out.loraA(), c.expected(m, "lora_A"));
            c.assertClose("lora_B", out.loraB(), c.expected(m, "lora_B"));
        }
        c.assertClose("delta_weight", out.loraB().matMul(out.loraA()), c.expected(m, "delta_weight"));
        if (c.expected().has("singular_values")) {
            c.assertClose("singular_values", out.loraB().square().sum(new int[] {0}).sqrt(),
                    c.expected(m, "singular_values"));
            c.assertClose("A A^T (orthonormal rows)", out.loraA().matMul(out.loraA().transpose()), m.eye(out.rank()));
        }
    }
}
