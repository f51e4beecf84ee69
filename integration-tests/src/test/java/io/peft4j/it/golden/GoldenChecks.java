package io.peft4j.it.golden;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import io.peft4j.api.Adapter;
import io.peft4j.api.Initializer;
import io.peft4j.api.Merger;
import io.peft4j.api.OptimizerPolicy;
import io.peft4j.api.Quantizer;
import io.peft4j.core.plugin.ExtensionKind;
import io.peft4j.core.plugin.InstalledExtensions;
import io.peft4j.plugins.testkit.GoldenCase;
import io.peft4j.plugins.testkit.GoldenClaims;
import java.util.Map;
import java.util.Optional;

/**
 * The platform-level checks a plugin's golden descriptor can name ({@code case.<family> = <check id>}), each
 * running a case through the PF4J-loaded extension and the real platform classes (PeftModel, AdaptableLinear).
 * Checks are keyed by what they exercise, not by method: {@code linear.forward} / {@code linear.merge} serve every
 * linear method whose case gives its factors as inputs (the descriptor's {@code tensors} maps them to PEFT's saved
 * keys), so a new method of that shape needs only its descriptor. The others drive an operation only one extension
 * has (a PRNG, a quantizer's bit layout, a budget schedule).
 */
final class GoldenChecks {
    /** What a check gets: the case, the claiming plugin's descriptor and the installed extensions. */
    record Target(GoldenCase c, GoldenClaims claims, InstalledExtensions ext, NDManager m) {
        Adapter adapter() {
            return installed("adapter", ext.adapter(claims.param("adapter")));
        }

        Quantizer<?> quantizer() {
            return installed("quantizer", ext.quantizer(claims.param("quantizer")));
        }

        Merger<?> merger() {
            return installed("merger", ext.merger(claims.param("merger")));
        }

        OptimizerPolicy<?> optimizerPolicy() {
            return installed("optimizer_policy", ext.optimizerPolicy(claims.param("optimizer_policy")));
        }

        private <T> T installed(String key, Optional<T> found) {
            return found.orElseThrow(() -> new AssertionError("plugin " + claims.pluginId() + " is installed but the "
                    + key + " '" + claims.param(key) + "' its golden descriptor names is not loaded"));
        }
    }

    @FunctionalInterface
    interface Check {
        void run(Target t) throws Exception;
    }

    private static final Map<String, Check> CHECKS = Map.ofEntries(
            Map.entry("linear.forward", t -> LoraFamilyCases.forward(t.c(), t.adapter(), t.claims().tensorKeys(), t.m())),
            Map.entry("linear.merge", t -> LoraFamilyCases.merge(t.c(), t.adapter(), t.claims().tensorKeys(), t.m())),
            Map.entry("lora.state_dict_keys", t -> LoraFamilyCases.stateDictKeys(t.c(), t.adapter(), t.m())),
            Map.entry("dora.init_magnitude", t -> DoraCases.initMagnitude(t.c(), t.adapter(), t.m())),
            Map.entry("dora.state_dict_keys", t -> DoraCases.stateDictKeys(t.c(), t.adapter(), t.m())),
            Map.entry("vera.forward", t -> VeraCases.forward(t.c(), t.adapter(), t.m())),
            Map.entry("vera.projection_prng", t -> VeraCases.projectionPrng(t.c(), t.adapter(), t.m())),
            Map.entry("vera.state_dict_keys", t -> VeraCases.stateDictKeys(t.c(), t.adapter(), t.m())),
            Map.entry("adalora.forward", t -> AdaloraCases.forward(t.c(), t.adapter(), t.m())),
            Map.entry("adalora.orth_reg", t -> AdaloraCases.orthReg(t.c(), t.adapter(), t.m())),
            Map.entry("adalora.budget_schedule", t -> AdaloraCases.budgetSchedule(t.c(), t.adapter(), t.m())),
            Map.entry("adalora.rank_allocation", t -> AdaloraCases.rankAllocation(t.c(), t.adapter(), t.m())),
            Map.entry("adalora.state_dict_keys", t -> AdaloraCases.stateDictKeys(t.c(), t.adapter(), t.m())),
            Map.entry("nf4.code_tables", t -> Nf4Cases.codeTables(t.c(), t.quantizer(), t.m())),
            Map.entry("nf4.quantize", t -> Nf4Cases.nf4Quantize(t.c(), t.quantizer(), t.m())),
            Map.entry("nf4.quantize_double_quant", t -> Nf4Cases.nf4QuantizeDoubleQuant(t.c(), t.quantizer(), t.m())),
            Map.entry("nf4.blockwise8_dynamic_absmax_quant",
                    t -> Nf4Cases.blockwise8DynamicAbsmaxQuant(t.c(), t.quantizer(), t.m())),
            Map.entry("nf4.zero_block", t -> Nf4Cases.nf4ZeroBlock(t.c(), t.quantizer(), t.m())),
            Map.entry("nf4.qlora_forward", t -> Nf4Cases.qloraForward(t.c(), t.quantizer(), t.m())),
            Map.entry("initializer.svd_init", GoldenChecks::svdInit),
            Map.entry("pissa.to_lora_conversion", t -> PissaCases.conversion(t.c(), t.adapter(), t.ext().initializerFor("pissa")
                    .orElseThrow(() -> new AssertionError("initializer pissa is not installed")), t.m())),
            Map.entry("optimizer_policy.param_groups",
                    t -> LoraPlusCases.paramGroups(t.c(), t.optimizerPolicy(), t.m())),
            Map.entry("merger.weighted", t -> MergingCases.run(t.c(), t.merger(), t.m())));

    private GoldenChecks() {
    }

    /** The check a descriptor names; an unknown id is an error naming the plugin and the known ids. */
    static Check get(String id, GoldenClaims claims) {
        Check c = CHECKS.get(id);
        if (c == null) {
            throw new AssertionError("plugin " + claims.pluginId() + " names golden check '" + id
                    + "', which integration-tests does not have (known: " + new java.util.TreeSet<>(CHECKS.keySet())
                    + ")");
        }
        return c;
    }

    /**
     * An SVD initializer case: the initializer the case's {@code init_lora_weights} selects must be the claiming
     * plugin's own (so the case checks that jar); it runs through the installed adapter the descriptor names.
     */
    private static void svdInit(Target t) {
        String init = t.c().config().path("init_lora_weights").asText();
        Initializer i = t.ext().initializerFor(init).orElseThrow(() -> new AssertionError(t.c().name()
                + ": no installed initializer handles init_lora_weights '" + init + "'"));
        assertThat(t.ext().contributor(ExtensionKind.INITIALIZER, i.id())).as(t.c().name() + ": plugin of the "
                + "initializer for '" + init + "'").contains(t.claims().pluginId());
        PissaCases.init(t.c(), t.adapter(), t.ext(), t.m());
    }
}
