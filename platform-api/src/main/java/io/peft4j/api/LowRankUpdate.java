package io.peft4j.api;

import ai.djl.ndarray.NDArray;

/**
 * One adapter's update at one site in factorised form: {@code ΔW = scaling · B A}.
 *
 * @param loraA   {@code [r, in]}
 * @param loraB   {@code [out, r]}
 * @param scaling {@code s}
 */
public record LowRankUpdate(NDArray loraA, NDArray loraB, double scaling) {
    public int rank() {
        return (int) loraA.getShape().get(0);
    }
}
