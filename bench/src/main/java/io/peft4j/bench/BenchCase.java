package io.peft4j.bench;

import java.nio.file.Path;
import java.util.Objects;

/**
 * One configuration to measure: a model (a random-weight {@link BenchShape} or a model directory), a mode and, for
 * the LoRA modes, the targets.
 *
 * @param shape    the random-weight shape, or null when {@code modelDir} is set
 * @param modelDir a Hugging Face model directory, or null
 * @param mode     what to measure
 * @param targets  {@code all} (every linear of the decoder layers, PEFT {@code all-linear}) or {@code qv}
 *                 ({@code q_proj, v_proj}); ignored (null) for {@link BenchMode#FULL}
 */
public record BenchCase(BenchShape shape, Path modelDir, BenchMode mode, String targets) {
    public BenchCase {
        Objects.requireNonNull(mode, "mode");
        if ((shape == null) == (modelDir == null)) {
            throw new IllegalArgumentException("a bench case needs exactly one of a size and a model directory");
        }
        if (mode == BenchMode.FULL) {
            targets = null;
        } else {
            targets = targets == null ? "all" : targets;
            if (!targets.equals("all") && !targets.equals("qv")) {
                throw new IllegalArgumentException("targets must be 'all' or 'qv', got '" + targets + "'");
            }
        }
    }

    /** The {@code size} field of the JSON: the shape id, or {@code model:<directory name>}. */
    public String sizeLabel() {
        return shape != null ? shape.id() : "model:" + modelDir.toAbsolutePath().normalize().getFileName();
    }

    @Override
    public String toString() {
        return sizeLabel() + "/" + mode.id() + (targets == null ? "" : "/" + targets);
    }
}
