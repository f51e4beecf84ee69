package io.peft4j.plugins.pissa;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.AdapterConfig;
import io.peft4j.api.AdapterInstance;
import io.peft4j.api.ConfigException;
import io.peft4j.api.Initializer.OriginalBaseAdapter;
import io.peft4j.api.LowRankConfig;
import io.peft4j.api.LowRankSettings;
import io.peft4j.api.LowRankUpdate;
import io.peft4j.api.Parameter;
import io.peft4j.api.PeftKeys;
import io.peft4j.api.SiteInfo;
import io.peft4j.api.SiteKind;
import io.peft4j.api.SiteModule;
import io.peft4j.api.TargetSpec;
import io.peft4j.plugins.testkit.TestLowRankSite;
import java.util.List;
import java.util.Map;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

/** PEFT's PiSSA-to-LoRA conversion rules (spec 5.3): config changes and the concatenated factors. */
class OriginalBaseConversionTest {
    private static final String PATH = "model.layers.0.self_attn.q_proj";

    @Test
    void doublesRankAlphaAndPatternsAndResetsInit() {
        LowRankSettings out = OriginalBaseConversion.settings(new LowRankSettings(4, 16.0, false,
                Map.of("q_proj", 8), Map.of("q_proj", 32.0), "pissa_niter_4"));
        assertThat(out).isEqualTo(new LowRankSettings(8, 32.0, false, Map.of("q_proj", 16), Map.of("q_proj", 64.0),
                "true"));
    }

    @Test
    void rsloraKeepsTheScalingWithAlphaTimesSqrt2() {
        LowRankSettings out = OriginalBaseConversion.settings(new LowRankSettings(4, 16.0, true, Map.of(), Map.of(),
                "pissa"));
        assertThat(out.r()).isEqualTo(8);
        assertThat(out.alpha() / Math.sqrt(8)).isCloseTo(16.0 / Math.sqrt(4), Offset.offset(1e-12));
    }

    @Test
    void rsloraWithPatternsIsRejectedLikePeft() {
        assertThatThrownBy(() -> OriginalBaseConversion.settings(new LowRankSettings(4, 16.0, true,
                Map.of("q_proj", 8), Map.of(), "pissa"))).isInstanceOf(ConfigException.class)
                .hasMessageContaining("use_rslora").hasMessageContaining("rank_pattern");
    }

    /** A' = [A; A0], B' = [B, -B0]; other saved tensors pass through; the config comes from withLowRank. */
    @Test
    void concatenatesTrainedAndNegatedInitialFactors() {
        try (NDManager m = NDManager.newBaseManager()) {
            SiteInfo site = new SiteInfo(PATH, SiteKind.LINEAR, 3, 2, 0, false);
            TestLowRankSite trained = new TestLowRankSite(m, site, 1, 2f);
            trained.setFactors(m.create(new float[] {1, 2, 3}, new Shape(1, 3)), m.create(new float[] {4, 5},
                    new Shape(2, 1)));
            NDArray a0 = m.create(new float[] {7, 8, 9}, new Shape(1, 3));
            NDArray b0 = m.create(new float[] {10, 11}, new Shape(2, 1));
            NDArray extra = m.create(new float[] {0.5f, 0.25f});
            Fake config = new Fake(new LowRankSettings(1, 2.0, false, Map.of(), Map.of(), "pissa"));
            AdapterInstance instance = new AdapterInstance() {
                public String name() {
                    return "default";
                }

                public AdapterConfig config() {
                    return config;
                }

                public Map<String, ? extends SiteModule> modules() {
                    return Map.of(PATH, trained);
                }

                public List<Parameter> parameters() {
                    return List.of();
                }

                public Map<String, NDArray> stateDict() {
                    return Map.of(PeftKeys.saved(PATH, "lora_A.weight"), trained.loraA(),
                            PeftKeys.saved(PATH, "lora_B.weight"), trained.loraB(),
                            PeftKeys.saved(PATH, "lora_magnitude_vector"), extra);
                }
            };
            OriginalBaseAdapter out = new PissaInitializer().convertForOriginalBase(instance,
                    Map.of(PATH, new LowRankUpdate(a0, b0, 2)), m);
            assertThat(out.stateDict().get(PeftKeys.saved(PATH, "lora_A.weight")).toFloatArray())
                    .containsExactly(1, 2, 3, 7, 8, 9);
            assertThat(out.stateDict().get(PeftKeys.saved(PATH, "lora_B.weight")).toFloatArray())
                    .containsExactly(4, -10, 5, -11);
            assertThat(out.stateDict().get(PeftKeys.saved(PATH, "lora_magnitude_vector"))).isSameAs(extra);
            assertThat(((Fake) out.config()).lowRank()).isEqualTo(new LowRankSettings(2, 4.0, false, Map.of(),
                    Map.of(), "true"));
        }
    }

    /** A minimal LowRankConfig: only its settings. */
    private record Fake(LowRankSettings lowRank) implements LowRankConfig {
        public TargetSpec targetSpec() {
            return TargetSpec.fromPeft(List.of("q_proj"), null, null, null);
        }

        public Fake withLowRank(LowRankSettings s) {
            return new Fake(s);
        }

        public Fake withTargetModules(Object targets) {
            return this;
        }
    }
}
