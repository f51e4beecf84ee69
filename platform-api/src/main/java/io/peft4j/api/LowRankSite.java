package io.peft4j.api;

import ai.djl.ndarray.NDArray;

/**
 * A linear-site module whose update is {@code s · B A} with {@code A [r, in]} and {@code B [out, r]}. Initializers
 * (PiSSA, MiLoRA), mergers (adapter arithmetic) and optimizer policies work on any module exposing this view.
 */
public interface LowRankSite extends LinearSiteModule {

    /**
     * {@code lora_A}, shape {@code [k, in]}: {@code k = r}, except that an SVD initializer (PiSSA with
     * {@code r > min(in, out)}) may give fewer rows, as PEFT does ({@link Initializer#factorRank}).
     */
    NDArray loraA();

    /** {@code lora_B}, shape {@code [out, k]} (see {@link #loraA()}). */
    NDArray loraB();

    /** The rank {@code r} of this site (after rank_pattern), the one its scaling and config use. */
    int rank();

    /** The scaling {@code s} applied to {@code B A} ({@code alpha/r}, or {@code alpha/sqrt(r)} with rsLoRA). */
    float scaling();

    /** Replaces both factors in place of the current ones (shapes must match {@link #loraA()} / {@link #loraB()}). */
    void setFactors(NDArray loraA, NDArray loraB);
}
