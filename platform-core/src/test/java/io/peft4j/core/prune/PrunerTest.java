package io.peft4j.core.prune;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.peft4j.api.ConfigException;
import io.peft4j.core.config.RunConfig.PruningSection;
import io.peft4j.core.config.RunConfigParser;
import io.peft4j.core.model.BundledModel;
import io.peft4j.core.model.LlamaModel;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Pruning the real stories260K (hidden 64, intermediate 172, 8 query / 4 key-value heads of dim 8, 5 layers). */
class PrunerTest {
    NDManager root;
    LlamaModel model;

    @BeforeEach
    void load() {
        root = NDManager.newBaseManager();
        model = LlamaModel.load(BundledModel.stories260K(), root);
    }

    @AfterEach
    void close() {
        model.close();
        root.close();
    }

    static PruningSection spec(String method, double sparsity, String scope) {
        return new PruningSection(method, sparsity, scope, null, null);
    }

    float[] weight(String path) {
        return model.linear(path).withWeight(NDArray::toFloatArray);
    }

    @Test
    void magnitudePerModuleReachesTheExactSparsityAndDropsTheSmallest() {
        String q = "model.layers.0.self_attn.q_proj";
        float[] before = weight(q);
        try (PruningMasks masks = Pruner.prune(model, spec("magnitude", 0.5, "per_layer"))) {
            SparsityReport r = SparsityReport.measure(model, masks.masks().keySet());
            assertThat(r.modules()).hasSize(35);
            r.modules().forEach((path, c) -> assertThat(c.zeros()).as(path).isEqualTo(c.total() / 2));
            assertThat(r.perLayer()).hasSize(5);
            assertThat(r.overall().sparsity()).isEqualTo(0.5);
            float[] after = weight(q);
            float maxDropped = 0;
            float minKept = Float.MAX_VALUE;
            for (int i = 0; i < after.length; i++) {
                if (after[i] == 0f) {
                    maxDropped = Math.max(maxDropped, Math.abs(before[i]));
                } else {
                    assertThat(after[i]).isEqualTo(before[i]);
                    minKept = Math.min(minKept, Math.abs(before[i]));
                }
            }
            assertThat(maxDropped).isLessThanOrEqualTo(minKept);
            assertThat(r.format()).contains("all").contains("50.00%");
        }
    }

    @Test
    void magnitudeGlobalHitsTheTargetOverall() {
        try (PruningMasks masks = Pruner.prune(model, new PruningSection("magnitude", 0.3, "global",
                List.of("gate_proj", "up_proj"), List.of(1, 3)))) {
            assertThat(masks.masks().keySet()).containsExactly("model.layers.1.mlp.gate_proj",
                    "model.layers.1.mlp.up_proj", "model.layers.3.mlp.gate_proj", "model.layers.3.mlp.up_proj");
            SparsityReport r = SparsityReport.measure(model, masks.masks().keySet());
            long total = r.overall().total();
            assertThat(r.overall().zeros()).isEqualTo((long) Math.floor(0.3 * total));
        }
    }

    @Test
    void mlpChannelsRemoveWholeChannelsConsistently() {
        try (PruningMasks masks = Pruner.prune(model, spec("mlp_channels", 0.25, "per_layer"))) {
            for (int l = 0; l < 5; l++) {
                String p = "model.layers." + l + ".mlp.";
                float[] gate = weight(p + "gate_proj");   // [172, 64]
                float[] up = weight(p + "up_proj");
                float[] down = weight(p + "down_proj");   // [64, 172]
                int removed = 0;
                for (int c = 0; c < 172; c++) {
                    boolean gateZero = allZero(gate, c * 64, 64, 1);
                    assertThat(allZero(up, c * 64, 64, 1)).isEqualTo(gateZero);
                    assertThat(allZero(down, c, 64, 172)).isEqualTo(gateZero);
                    removed += gateZero ? 1 : 0;
                }
                assertThat(removed).isEqualTo(Math.round(0.25 * 172));
            }
        }
    }

    @Test
    void headsRemoveWholeGroupedQueryGroups() {
        try (PruningMasks masks = Pruner.prune(model, spec("heads", 0.5, "per_layer"))) {
            for (int l = 0; l < 5; l++) {
                String p = "model.layers." + l + ".self_attn.";
                float[] q = weight(p + "q_proj");   // [64, 64], query head h = rows 8h..8h+7; group g = heads 2g, 2g+1
                float[] k = weight(p + "k_proj");   // [32, 64]
                float[] o = weight(p + "o_proj");   // [64, 64], columns per query head
                int groups = 0;
                for (int g = 0; g < 4; g++) {
                    boolean kZero = allZero(k, g * 8 * 64, 8 * 64, 1);
                    assertThat(allZero(q, g * 16 * 64, 16 * 64, 1)).isEqualTo(kZero);
                    for (int col = g * 16; col < g * 16 + 16; col++) {
                        assertThat(allZero(o, col, 64, 64)).isEqualTo(kZero);
                    }
                    groups += kZero ? 1 : 0;
                }
                assertThat(groups).isEqualTo(2);
            }
        }
    }

    @Test
    void masksReapplyAfterTheWeightIsDensified() {
        String d = "model.layers.2.mlp.down_proj";
        try (PruningMasks masks = Pruner.prune(model, spec("magnitude", 0.6, "per_layer"))) {
            NDArray dense = model.linear(d).rawWeight().add(0.01f);
            model.linear(d).setWeight(dense);
            assertThat(SparsityReport.measure(model, List.of(d)).overall().zeros()).isZero();
            masks.apply(model, null);
            SparsityReport.Count c = SparsityReport.measure(model, List.of(d)).overall();
            assertThat(c.zeros()).isEqualTo((long) Math.floor(0.6 * c.total()));
        }
    }

    @Test
    void badInputIsRefusedNamingTheField() {
        for (double s : new double[] {1.0, -0.1, 1.5}) {
            assertThatThrownBy(() -> RunConfigParser.parse("pruning: {method: magnitude, sparsity: " + s + "}", true))
                    .isInstanceOf(ConfigException.class).hasMessageContaining("pruning.sparsity")
                    .hasMessageContaining("[0, 1)");
        }
        assertThatThrownBy(() -> RunConfigParser.parse("pruning: {method: wanda, sparsity: 0.5}", true))
                .hasMessageContaining("pruning.method");
        // 0.9 of 4 key/value groups rounds to 4: nothing of the attention would be left.
        assertThatThrownBy(() -> Pruner.prune(model, spec("heads", 0.9, "per_layer")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("pruning.sparsity")
                .hasMessageContaining("would remove all 4 key/value head groups");
        assertThatThrownBy(() -> Pruner.validate(model.config(), spec("mlp_channels", 0.999, "per_layer")))
                .hasMessageContaining("all 172 MLP channels");
        // Globally ranked, one layer can lose everything even though the overall share is below 1.
        assertThatThrownBy(() -> Pruner.prune(model, spec("heads", 0.85, "global")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("global ranking");
        assertThatThrownBy(() -> Pruner.prune(model, new PruningSection("magnitude", 0.5, null, null, List.of(7))))
                .hasMessageContaining("pruning.layers");
    }

    static boolean allZero(float[] a, int start, int count, int stride) {
        for (int i = 0; i < count; i++) {
            if (a[start + i * stride] != 0f) {
                return false;
            }
        }
        return true;
    }
}
