package io.peft4j.core.peft;

import io.peft4j.api.AdapterInstance;
import io.peft4j.api.LowRankSite;
import io.peft4j.api.ParamRole;
import io.peft4j.api.Parameter;
import io.peft4j.api.SiteKind;
import io.peft4j.api.SiteModule;
import java.util.Optional;

/**
 * The one rule for "plain low-rank": an adapter whose update is exactly {@code Δy = s · x Aᵀ Bᵀ} at every site, i.e.
 * every module is a linear {@link LowRankSite} and it has no parameters besides {@code lora_A} / {@code lora_B}
 * ({@link ParamRole#DOWN} / {@link ParamRole#UP}). Only such adapters can be stacked into one batched pass of a mixed
 * batch ({@code model.LowRankStacks}, declared by the server) and combined into a new adapter
 * ({@link AdapterArithmetic}): both read nothing but {@code (A, B, s)}, so any other state (DoRA's magnitude,
 * AdaLoRA's singular values, VeRA's shared projections, {@code lora_bias}) would be silently dropped.
 */
public final class PlainLowRank {
    private PlainLowRank() {
    }

    /** Whether {@code instance} is plain low-rank. */
    public static boolean test(AdapterInstance instance) {
        return whyNot(instance).isEmpty();
    }

    /**
     * Why {@code instance} is not plain low-rank, worded to follow the adapter's name (for example
     * {@code "has DoRA magnitude vectors"}); empty when it is.
     */
    public static Optional<String> whyNot(AdapterInstance instance) {
        for (SiteModule m : instance.modules().values()) {
            if (m.site().kind() != SiteKind.LINEAR || !(m instanceof LowRankSite)) {
                return Optional.of("is not a low-rank adapter at " + m.site().path());
            }
        }
        for (Parameter p : instance.parameters()) {
            if (p.role() != ParamRole.DOWN && p.role() != ParamRole.UP) {
                return Optional.of("has " + switch (p.role()) {
                    case MAGNITUDE -> "DoRA magnitude vectors";
                    case UP_BIAS -> "lora_B biases (lora_bias)";
                    case RANK_SCALE -> "AdaLoRA singular values";
                    default -> p.role() + " parameters such as " + p.name();
                });
            }
        }
        return Optional.empty();
    }
}
