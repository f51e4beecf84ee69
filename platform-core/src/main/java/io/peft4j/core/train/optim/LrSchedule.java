package io.peft4j.core.train.optim;

/**
 * A learning-rate multiplier per optimizer step, with Hugging Face {@code transformers}'
 * {@code get_*_schedule_with_warmup} semantics ({@code LambdaLR}): the learning rate used by the optimizer step that
 * follows {@code step} completed steps (so the first step uses {@code factor(0)}) is {@code group.lr * factor(step)}.
 */
@FunctionalInterface
public interface LrSchedule {

    /** @param step the number of optimizer steps already taken (0-based) */
    double factor(int step);

    /** The schedule kinds accepted in configurations. */
    enum Kind {
        /** {@code get_constant_schedule_with_warmup}: {@code step/warmup} during warmup, then 1. */
        CONSTANT,
        /** {@code get_linear_schedule_with_warmup}: warmup, then linear decay to 0 at {@code total}. */
        LINEAR,
        /** {@code get_cosine_schedule_with_warmup} (half a cycle): warmup, then cosine decay to 0 at {@code total}. */
        COSINE;

        /** Parses {@code constant}, {@code linear} or {@code cosine} (case-insensitive). */
        public static Kind parse(String s) {
            for (Kind k : values()) {
                if (k.name().equalsIgnoreCase(s.trim())) {
                    return k;
                }
            }
            throw new IllegalArgumentException("unknown learning-rate schedule '" + s
                    + "'; expected one of constant, linear, cosine");
        }
    }

    /**
     * @param warmupSteps linear warmup from 0 over this many steps (0 for none)
     * @param totalSteps  the number of optimizer steps of the run (ignored for {@link Kind#CONSTANT})
     */
    static LrSchedule of(Kind kind, int warmupSteps, int totalSteps) {
        if (warmupSteps < 0) {
            throw new IllegalArgumentException("warmup steps must be >= 0, got " + warmupSteps);
        }
        if (kind != Kind.CONSTANT && totalSteps < 1) {
            throw new IllegalArgumentException("total steps must be >= 1 for a " + kind + " schedule, got " + totalSteps);
        }
        return switch (kind) {
            case CONSTANT -> step -> step < warmupSteps ? (double) step / Math.max(1, warmupSteps) : 1.0;
            case LINEAR -> step -> {
                if (step < warmupSteps) {
                    return (double) step / Math.max(1, warmupSteps);
                }
                return Math.max(0.0, (double) (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
            };
            case COSINE -> step -> {
                if (step < warmupSteps) {
                    return (double) step / Math.max(1, warmupSteps);
                }
                double progress = (double) (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
                // num_cycles = 0.5: cos(pi * 2 * 0.5 * progress)
                return Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * 2.0 * 0.5 * progress)));
            };
        };
    }
}
