package io.peft4j.plugins.merging;

import io.peft4j.linalg.EjmlLinearAlgebra;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import io.peft4j.api.ConfigException;
import io.peft4j.api.LowRankUpdate;
import io.peft4j.plugins.testkit.GoldenCase;
import io.peft4j.plugins.testkit.GoldenSuite;
import io.peft4j.plugins.testkit.KeepMaskRandom;
import io.peft4j.plugins.testkit.ManagedTensorTest;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/** The weighted merger against the golden vectors (shared/golden/add_weighted_*) and its validation. */
class WeightedMergerTest extends ManagedTensorTest {
    private final WeightedMerger merger = new WeightedMerger(EjmlLinearAlgebra.INSTANCE);

    /**
     * Every add_weighted_* case of the vector sets (the family META-INF/peft4j-golden/merging.properties claims);
     * integration-tests runs the same cases through the installed jar.
     */
    @TestFactory
    Stream<DynamicTest> golden() {
        return GoldenSuite.of("merging").on("add_weighted", (g, unused) -> golden(g)).tests();
    }

    /** Tensors go to the test's manager {@code m}, which lives until the whole factory has run. */
    private void golden(GoldenCase g) {
        List<String> names = new ArrayList<>();
        g.config().get("adapters").forEach(n -> names.add(n.asText()));
        List<LowRankUpdate> inputs = new ArrayList<>();
        List<Integer> ranks = new ArrayList<>();
        List<NDArray> masksA = new ArrayList<>();
        List<NDArray> masksB = new ArrayList<>();
        for (String n : names) {
            inputs.add(new LowRankUpdate(g.input(m, n + ".lora_A"), g.input(m, n + ".lora_B"),
                    g.config().get(n).get("scaling").asDouble()));
            ranks.add(g.config().get(n).get("r").asInt());
            if (g.inputs().has(n + ".lora_A.dare_keep_mask")) {
                masksA.add(g.input(m, n + ".lora_A.dare_keep_mask"));
                masksB.add(g.input(m, n + ".lora_B.dare_keep_mask"));
            }
        }
        List<Double> weights = new ArrayList<>();
        g.config().get("weights").forEach(w -> weights.add(w.asDouble()));
        JsonNode c = g.config();
        MergeOptions options = new MergeOptions(c.hasNonNull("density") ? c.get("density").asDouble() : null,
                c.hasNonNull("majority_sign_method") ? c.get("majority_sign_method").asText() : null,
                c.hasNonNull("svd_rank") ? c.get("svd_rank").asInt() : null,
                c.hasNonNull("svd_clamp") ? c.get("svd_clamp").asDouble() : null);
        String type = c.get("combination_type").asText();
        int rank = merger.combinedRank(type, ranks, options);
        assertThat(rank).isEqualTo(g.expected().get("new_r").asInt())
                .isEqualTo(g.expected().get("new_lora_alpha").asInt());
        // PEFT's masks, replayed in the order the merger draws them: every input's A mask, then every B mask.
        List<NDArray> masks = new ArrayList<>(masksA);
        masks.addAll(masksB);
        Random random = masks.isEmpty() ? new Random(0) : new KeepMaskRandom(masks);
        LowRankUpdate out = merger.combine(type, inputs, weights, rank, options, random);
        if (random instanceof KeepMaskRandom k) {
            assertThat(k.remaining()).as("every mask entry drawn once").isZero();
        }
        assertThat(out.scaling()).isEqualTo(1.0);
        assertThat(out.rank()).isEqualTo(rank);
        if (g.expected().has("lora_A")) {
            g.assertClose("lora_A", out.loraA(), g.expected(m, "lora_A"));
            g.assertClose("lora_B", out.loraB(), g.expected(m, "lora_B"));
        }
        g.assertClose("delta_weight", out.loraB().matMul(out.loraA()), g.expected(m, "delta_weight"));
        if (g.expected().has("singular_values")) {
            // B = U diag(S) with orthonormal U: the column norms of B are the singular values; A has orthonormal rows.
            g.assertClose("singular_values", out.loraB().square().sum(new int[] {0}).sqrt(),
                    g.expected(m, "singular_values"));
            NDArray gram = out.loraA().matMul(out.loraA().transpose());
            g.assertClose("A A^T", gram, m.eye(rank));
        }
    }

    @Test
    void catIsExact() {
        NDArray a1 = m.randomNormal(new Shape(3, 8));
        NDArray b1 = m.randomNormal(new Shape(5, 3));
        NDArray a2 = m.randomNormal(new Shape(2, 8));
        NDArray b2 = m.randomNormal(new Shape(5, 2));
        LowRankUpdate out = merger.combine("cat", List.of(new LowRankUpdate(a1, b1, 2.0), new LowRankUpdate(a2, b2, 0.5)),
                List.of(0.3, -1.5), 5, MergeOptions.none(), null);
        NDArray expected = b1.matMul(a1).mul(0.3 * 2.0).add(b2.matMul(a2).mul(-1.5 * 0.5));
        assertThat(out.rank()).isEqualTo(5);
        assertThat(out.loraB().matMul(out.loraA()).sub(expected).abs().max().getFloat()).isLessThan(1e-5f);
    }

    @Test
    void dareDrawsFromTheGivenRandomReproducibly() {
        List<LowRankUpdate> in = List.of(new LowRankUpdate(m.randomNormal(new Shape(4, 16)), m.randomNormal(new Shape(12, 4)), 1),
                new LowRankUpdate(m.randomNormal(new Shape(4, 16)), m.randomNormal(new Shape(12, 4)), 2));
        MergeOptions o = new MergeOptions(0.5, null, null, null);
        float[] x = merger.combine("dare_ties", in, List.of(1.0, 0.5), 4, o, new Random(7)).loraA().toFloatArray();
        float[] y = merger.combine("dare_ties", in, List.of(1.0, 0.5), 4, o, new Random(7)).loraA().toFloatArray();
        float[] z = merger.combine("dare_ties", in, List.of(1.0, 0.5), 4, o, new Random(8)).loraA().toFloatArray();
        assertThat(x).containsExactly(y);
        assertThat(x).isNotEqualTo(z);
        long zeros = 0;
        for (float v : x) {
            zeros += v == 0 ? 1 : 0;
        }
        assertThat(zeros).as("about a quarter of the entries are dropped by both inputs").isBetween(4L, 40L);
    }

    @Test
    void densityOneDisablesPruning() {
        List<LowRankUpdate> in = List.of(new LowRankUpdate(m.randomNormal(new Shape(2, 6)), m.randomNormal(new Shape(3, 2)), 1),
                new LowRankUpdate(m.randomNormal(new Shape(2, 6)), m.randomNormal(new Shape(3, 2)), 1));
        float[] pruned = merger.combine("magnitude_prune", in, List.of(1.0, 1.0), 2, new MergeOptions(1.0, null, null, null), null)
                .loraA().toFloatArray();
        float[] linear = merger.combine("linear", in, List.of(1.0, 1.0), 2, MergeOptions.none(), null).loraA().toFloatArray();
        assertThat(pruned).containsExactly(linear);
    }

    @Test
    void magnitudePruneTruncatesTheKeptCountInDouble() {
        double[] x = new double[100];
        for (int i = 0; i < 100; i++) {
            x[i] = i + 1;
        }
        double[] p = TaskArithmetic.magnitudePrune(x, 0.57);
        long kept = java.util.Arrays.stream(p).filter(v -> v != 0).count();
        assertThat(kept).as("int(0.57 * 100) = 56 in double arithmetic").isEqualTo(56);
    }

    @Test
    void errors() {
        MergeOptions none = MergeOptions.none();
        assertThatThrownBy(() -> merger.combinedRank("linear", List.of(4, 2), none))
                .isInstanceOf(ConfigException.class).hasMessageContaining("linear needs equal ranks, got [4, 2]");
        assertThat(merger.combinedRank("cat", List.of(4, 2), none)).isEqualTo(6);
        assertThat(merger.combinedRank("svd", List.of(4, 2), none)).isEqualTo(4);
        assertThat(merger.combinedRank("svd", List.of(4, 2), new MergeOptions(null, null, 3, null))).isEqualTo(3);
        assertThat(merger.combinedRank("ties", List.of(4), new MergeOptions(0.5, null, null, null))).isEqualTo(4);
        assertThatThrownBy(() -> merger.combinedRank("ties", List.of(4, 4), none))
                .isInstanceOf(ConfigException.class).hasMessageContaining("density").hasMessageContaining("required");
        for (double d : new double[] {0, -0.1, 1.5}) {
            assertThatThrownBy(() -> merger.combinedRank("dare_linear", List.of(4, 4),
                    new MergeOptions(d, null, null, null)))
                    .isInstanceOf(ConfigException.class).hasMessageStartingWith("density: must be in (0, 1]");
        }
        assertThatThrownBy(() -> merger.combinedRank("ties", List.of(4, 4), new MergeOptions(0.5, "mean", null, null)))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("majority_sign_method:");
        assertThatThrownBy(() -> new MergeOptions(null, null, 0, null).validate())
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("svd_rank:");
        assertThatThrownBy(() -> new MergeOptions(null, null, null, 1.5).validate())
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("svd_clamp:");
        assertThat(new MergeOptions(null, "FREQUENCY", null, null).frequencySign()).isTrue();
        assertThatThrownBy(() -> merger.combinedRank("average", List.of(4, 4), none))
                .isInstanceOf(ConfigException.class).hasMessageContaining("combination_type");
        LowRankUpdate u = new LowRankUpdate(m.zeros(new Shape(2, 6)), m.zeros(new Shape(3, 2)), 1);
        assertThatThrownBy(() -> merger.combine("linear", List.of(u, u), List.of(1.0), 2, none, null))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("weights: got 1 weights for 2 adapters");
    }
}
