package io.peft4j.it.golden;

import ai.djl.ndarray.NDManager;
import io.peft4j.api.Adapter;
import io.peft4j.api.Quantizer;
import io.peft4j.core.plugin.InstalledExtensions;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Maps each golden case to the installed extension it exercises and the handler that runs it. Returns empty when
 * the extension is not installed (the case is skipped); fails when it is installed but no handler knows the case,
 * so a plugin cannot silently skip its vectors.
 */
final class GoldenHandlers {
    interface Handler {
        void run(GoldenCase c, NDManager m) throws Exception;
    }

    interface AdapterHandler {
        void run(GoldenCase c, Adapter a, NDManager m) throws Exception;
    }

    private GoldenHandlers() {
    }

    static Optional<Handler> find(GoldenCase c, InstalledExtensions ext) {
        return switch (c.method) {
            case "lora" -> adapterCase(c, ext, "lora", switch (kind(c.name, "lora_merge", "lora_forward")) {
                case "lora_merge" -> LoraFamilyCases::loraMerge;
                case "lora_forward" -> LoraFamilyCases::loraForward;
                default -> null;
            });
            case "dora" -> adapterCase(c, ext, "dora", switch (kind(c.name, "dora_init_magnitude", "dora_forward",
                    "dora_merge")) {
                case "dora_init_magnitude" -> DoraCases::initMagnitude;
                case "dora_forward" -> DoraCases::forward;
                case "dora_merge" -> DoraCases::merge;
                default -> null;
            });
            case "vera" -> adapterCase(c, ext, "vera", switch (kind(c.name, "vera_forward", "vera_projection_prng")) {
                case "vera_forward" -> VeraCases::forward;
                case "vera_projection_prng" -> VeraCases::projectionPrng;
                default -> null;
            });
            case "nf4", "qlora" -> ext.quantizer("nf4").map(q -> nf4Case(c, q));
            case "pissa", "milora" -> PissaCases.find(c, ext);
            case "loraplus" -> LoraPlusCases.find(c, ext);
            case "add_weighted_adapter" -> ext.merger("weighted").map(mg -> (cc, m) -> MergingCases.run(cc, mg, m));
            case "adalora" -> adapterCase(c, ext, "adalora", switch (kind(c.name, "adalora_forward", "adalora_orth_reg",
                    "adalora_budget_schedule", "adalora_rank_allocation")) {
                case "adalora_forward" -> AdaloraCases::forward;
                case "adalora_orth_reg" -> AdaloraCases::orthReg;
                case "adalora_budget_schedule" -> AdaloraCases::budgetSchedule;
                case "adalora_rank_allocation" -> AdaloraCases::rankAllocation;
                default -> null;
            });
            case "format" -> formatCase(ext);
            default -> Optional.empty();
        };
    }

    /**
     * The case family a name belongs to: the longest of {@code families} that the name equals or extends with
     * {@code _suffix} ({@code adalora_rank_allocation_r6_bgt7} is an {@code adalora_rank_allocation} case), so other
     * vector sets can add cases of a known family under their own names; null when none matches.
     */
    static String kind(String name, String... families) {
        String best = null;
        for (String f : families) {
            if ((name.equals(f) || name.startsWith(f + "_")) && (best == null || f.length() > best.length())) {
                best = f;
            }
        }
        return best == null ? "" : best;
    }

    private static Optional<Handler> adapterCase(GoldenCase c, InstalledExtensions ext, String method,
                                                 AdapterHandler h) {
        Optional<Adapter> a = ext.adapter(method);
        if (a.isEmpty()) {
            return Optional.empty();
        }
        if (h == null) {
            throw new AssertionError("method '" + method + "' is installed but the golden runner has no handler for "
                    + "case " + c.name);
        }
        return Optional.of((cc, m) -> h.run(cc, a.get(), m));
    }

    private static Handler nf4Case(GoldenCase c, Quantizer<?> q) {
        Nf4Handler h = switch (c.name) {
            case "nf4_code_tables" -> Nf4Cases::codeTables;
            case "nf4_quantize" -> Nf4Cases::nf4Quantize;
            case "nf4_quantize_double_quant" -> Nf4Cases::nf4QuantizeDoubleQuant;
            case "blockwise8_dynamic_absmax_quant" -> Nf4Cases::blockwise8DynamicAbsmaxQuant;
            case "nf4_zero_block" -> Nf4Cases::nf4ZeroBlock;
            case "qlora_forward" -> Nf4Cases::qloraForward;
            default -> throw new AssertionError("quantizer nf4 is installed but no handler knows " + c.name);
        };
        return (cc, m) -> h.run(cc, q, m);
    }

    interface Nf4Handler {
        void run(GoldenCase c, Quantizer<?> q, NDManager m) throws Exception;
    }

    /** peft_state_dict_keys: checks the saved key names of every installed method the case lists. */
    private static Optional<Handler> formatCase(InstalledExtensions ext) {
        List<Handler> parts = new ArrayList<>();
        ext.adapter("lora").ifPresent(a -> parts.add((c, m) -> LoraFamilyCases.stateDictKeys(c, a, m)));
        ext.adapter("dora").ifPresent(a -> parts.add((c, m) -> DoraCases.stateDictKeys(c, a, m)));
        ext.adapter("vera").ifPresent(a -> parts.add((c, m) -> VeraCases.stateDictKeys(c, a, m)));
        ext.adapter("adalora").ifPresent(a -> parts.add((c, m) -> AdaloraCases.stateDictKeys(c, a, m)));
        if (parts.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of((c, m) -> {
            for (Handler h : parts) {
                h.run(c, m);
            }
        });
    }
}
