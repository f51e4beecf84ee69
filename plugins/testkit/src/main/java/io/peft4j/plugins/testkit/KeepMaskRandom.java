package io.peft4j.plugins.testkit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A {@link Random} that replays given keep masks (1 = keep) through {@link #nextDouble()}: 0.0 for a kept entry,
 * 1.0 for a dropped one. Code that draws a Bernoulli(density) mask as {@code nextDouble() < density} (DARE, with
 * {@code 0 < density <= 1}) then reproduces exactly the reference masks, provided they are given in the order the
 * code draws them. Any other draw, or more draws than the masks hold, is an {@link IllegalStateException}.
 */
public final class KeepMaskRandom extends Random {
    private final List<Double> draws = new ArrayList<>();
    private int next;

    /** The masks' entries, row-major, mask after mask. */
    public KeepMaskRandom(List<NDArray> masks) {
        for (NDArray mask : masks) {
            try (NDArray d = mask.toType(DataType.FLOAT64, true)) {
                for (double v : d.toDoubleArray()) {
                    draws.add(v != 0 ? 0.0 : 1.0);
                }
            }
        }
    }

    @Override
    public double nextDouble() {
        if (next >= draws.size()) {
            throw new IllegalStateException("more draws than the " + draws.size() + " mask entries given");
        }
        return draws.get(next++);
    }

    /** Entries not drawn yet (0 once the code under test has consumed every mask). */
    public int remaining() {
        return draws.size() - next;
    }

    @Override
    protected int next(int bits) {
        throw new IllegalStateException("only nextDouble() replays the masks");
    }
}
