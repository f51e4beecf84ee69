package io.peft4j.core.peft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.peft4j.api.Adapter;
import io.peft4j.api.AdapterConfig;
import io.peft4j.api.AdapterContext;
import io.peft4j.api.AdapterDescriptor;
import io.peft4j.api.AdapterInstance;
import io.peft4j.api.ConfigException;
import io.peft4j.api.SiteInfo;
import io.peft4j.api.SiteKind;
import io.peft4j.api.TargetSpec;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** A linear method's targets default to what the method declares for the architecture, never to core's guess. */
class DefaultTargetsTest {
    private static final List<SiteInfo> SITES = List.of(
            new SiteInfo("model.layers.0.self_attn.q_proj", SiteKind.LINEAR, 8, 8, 0, false),
            new SiteInfo("model.layers.0.self_attn.k_proj", SiteKind.LINEAR, 8, 4, 0, false),
            new SiteInfo("model.layers.0.self_attn.v_proj", SiteKind.LINEAR, 8, 4, 0, false));
    private static final AdapterConfig NO_TARGETS = () -> TargetSpec.fromPeft(null, null, null, null);

    private static Adapter method(List<String> defaults) {
        return new Adapter() {
            public AdapterDescriptor descriptor() {
                return new AdapterDescriptor("demo", "DEMO", AdapterConfig.class, Set.of(SiteKind.LINEAR), "demo")
                        .withDefaultTargets(architecture -> "llama".equals(architecture) ? defaults : List.of());
            }

            public AdapterInstance create(String name, AdapterConfig c, List<SiteInfo> s, AdapterContext ctx) {
                throw new UnsupportedOperationException();
            }
        };
    }

    @Test
    void usesTheMethodsDefaultsForTheArchitecture() {
        List<SiteInfo> got = PeftModel.resolveSites(method(List.of("k_proj")), NO_TARGETS, SITES, "llama",
                "adapters[0]");
        assertThat(got).extracting(SiteInfo::shortName).containsExactly("k_proj");
    }

    @Test
    void aMethodWithoutDefaultsNeedsTargetsAndTheErrorSaysSo() {
        assertThatThrownBy(() -> PeftModel.resolveSites(method(List.of("k_proj")), NO_TARGETS, SITES, "qwen9",
                "adapters[0]")).isInstanceOf(ConfigException.class)
                .hasMessageContaining("adapters[0].target_modules").hasMessageContaining("demo")
                .hasMessageContaining("qwen9");
    }
}
