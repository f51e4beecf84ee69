package io.peft4j.plugins.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peft4j.api.Adapter;
import io.peft4j.api.AdapterConfig;
import io.peft4j.api.AdapterInstance;
import io.peft4j.api.LinearSiteModule;
import io.peft4j.api.LowRankSite;
import io.peft4j.api.PeftKeys;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Unit-level golden handlers for linear methods, the counterparts of integration-tests' {@code linear.forward} /
 * {@code linear.merge} checks: the case config is read into the method's own config type (PEFT field names, the
 * case's extra keys such as {@code scaling} ignored), the adapter is created over one {@link TestLinearBase} with
 * the case's weight and bias, and the case inputs are loaded under the saved keys the descriptor's {@code tensors}
 * entry names ({@code lora_A:lora_A.weight, ...}).
 */
public final class GoldenLinearChecks {
    /** The module path the cases are attached at. */
    public static final String PATH = TestLinearBase.Q_PROJ;
    private static final ObjectMapper JSON = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    private GoldenLinearChecks() {
    }

    /** {@code y} (and {@code scaling} where the case gives it) of a forward case; dropout uses the keep mask. */
    public static GoldenSuite.Handler forward(Adapter adapter, GoldenClaims claims) {
        return (c, m) -> {
            TestLinearBase base = base(c, m);
            LinearSiteModule site = loaded(c, m, adapter, claims, base);
            if (c.expected().has("scaling")) {
                c.assertClose("scaling", ((LowRankSite) site).scaling(), c.expected().get("scaling").asDouble());
            }
            boolean training = c.config().path("training").asBoolean(false);
            NDArray mask = c.hasInput("dropout_keep_mask") ? c.input(m, "dropout_keep_mask") : null;
            NDArray y = base.forward(c.input(m, "x"), List.of(site), new TestForwardContext(training, m, mask));
            c.assertClose("y", y, c.expected(m, "y"));
        };
    }

    /**
     * A merge case: the delta weight (the case's {@code delta_weight}, else the effective one, merged minus
     * original), merged weight and bias, and unmerge restoring both.
     */
    public static GoldenSuite.Handler merge(Adapter adapter, GoldenClaims claims) {
        return (c, m) -> {
            TestLinearBase base = base(c, m);
            LinearSiteModule site = loaded(c, m, adapter, claims, base);
            NDArray w0 = base.withWeight(NDArray::duplicate);
            NDArray b0 = base.bias().orElseThrow().duplicate();
            NDArray merged = c.expected(m, "merged_weight");
            NDArray delta = c.expected().has("delta_weight") ? c.expected(m, "delta_weight") : merged.sub(w0);
            c.assertClose("delta_weight", site.deltaWeight(base).orElseThrow(), delta);
            site.merge(base);
            c.assertClose("merged_weight", base.weight().array(), merged);
            c.assertClose("merged_bias", base.bias().orElseThrow(), c.expected(m, "merged_bias"));
            site.unmerge(base);
            c.assertClose("unmerged weight", base.weight().array(), w0);
            c.assertClose("unmerged bias", base.bias().orElseThrow(), b0);
        };
    }

    /**
     * {@code peft_state_dict_keys}: the saved names of an adapter created from {@code config} on the case's
     * module paths (its {@code target_modules}) are exactly {@code expected[expectedKey]}.
     */
    public static GoldenSuite.Handler stateDictKeys(Adapter adapter, String expectedKey, Map<String, Object> config) {
        return (c, m) -> {
            List<String> paths = new java.util.ArrayList<>();
            c.config().get("target_module_paths").forEach(p -> paths.add(p.asText()));
            TestLinearBase[] bases = paths.stream().map(p -> TestLinearBase.random(m, p, 12, 16))
                    .toArray(TestLinearBase[]::new);
            Map<String, Object> cfg = new LinkedHashMap<>(config);
            cfg.put("target_modules", paths);
            TestAdapterContext ctx = new TestAdapterContext(m).withLayers(bases);
            AdapterInstance inst = adapter.create("default", config(adapter, cfg, c.name()), ctx.sites(), ctx);
            List<String> expected = new java.util.ArrayList<>();
            c.expected().get(expectedKey).forEach(k -> expected.add(k.asText()));
            assertThat(inst.stateDict().keySet()).as(c.name() + ": " + expectedKey)
                    .containsExactlyInAnyOrderElementsOf(expected);
        };
    }

    /** The case config (plus {@code target_modules: [q_proj]}) as the adapter's config type, validated. */
    public static AdapterConfig config(Adapter adapter, Map<String, Object> cfg, String caseName) {
        AdapterConfig config;
        try {
            config = JSON.convertValue(cfg, adapter.configType());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("golden case " + caseName + ": config does not read as "
                    + adapter.configType().getSimpleName() + ": " + e.getMessage(), e);
        }
        config.validate();
        return config;
    }

    private static TestLinearBase base(GoldenCase c, NDManager m) {
        return new TestLinearBase(PATH, c.input(m, "weight"), c.hasInput("bias") ? c.input(m, "bias") : null);
    }

    private static LinearSiteModule loaded(GoldenCase c, NDManager m, Adapter adapter, GoldenClaims claims,
                                           TestLinearBase base) {
        Map<String, Object> cfg = new LinkedHashMap<>(c.configMap());
        cfg.put("target_modules", List.of("q_proj"));
        TestAdapterContext ctx = TestAdapterContext.overLayers(m, List.of(), base);
        AdapterInstance inst = adapter.create("default", config(adapter, cfg, c.name()), ctx.sites(), ctx);
        Map<String, NDArray> saved = new HashMap<>();
        claims.tensorKeys().forEach((input, key) -> {
            if (c.hasInput(input)) {
                saved.put(PeftKeys.saved(PATH, key), c.input(m, input));
            }
        });
        assertThat(inst.loadStateDict(saved)).as(c.name() + ": loaded keys").isEqualTo(saved.keySet());
        return (LinearSiteModule) inst.modules().get(PATH);
    }
}
