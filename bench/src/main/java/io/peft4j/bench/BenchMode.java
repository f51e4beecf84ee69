package io.peft4j.bench;

import java.util.Arrays;
import java.util.Locale;

/** What one benchmark configuration measures. */
public enum BenchMode {
    /** Forward (unmerged LoRA, no grad) and LoRA train step (forward + CE loss + backward + AdamW + zero grad). */
    LORA,
    /** Forward and train step with every base weight trainable (no adapter). */
    FULL,
    /** Base forward, unmerged LoRA forward, merge time, merged forward and the max |Δlogits| merged vs unmerged. */
    MERGE,
    /** Many LoRA train steps, sampling the resident set size: is memory flat after warm-up? */
    RSS;

    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses {@code lora|full|merge|rss} (case-insensitive). */
    public static BenchMode parse(String s) {
        for (BenchMode m : values()) {
            if (m.id().equalsIgnoreCase(s.trim())) {
                return m;
            }
        }
        throw new IllegalArgumentException("unknown bench mode '" + s + "' (expected one of "
                + Arrays.stream(values()).map(BenchMode::id).toList() + ")");
    }
}
