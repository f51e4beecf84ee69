package io.peft4j.core.quant;

/**
 * How much an operation changed the model's logits on a probe batch: {@code max_i |a_i - b_i|} and
 * {@code mean_i |a_i - b_i|} over every logit of every probe position, with the largest logit magnitude before the
 * change for scale.
 */
public record OutputChange(double maxAbs, double meanAbs, double maxAbsLogit, int probeTokens) {

    /** Compares logits {@code before} and {@code after} (same length). */
    public static OutputChange between(float[] before, float[] after, int probeTokens) {
        if (before.length != after.length) {
            throw new IllegalArgumentException("logit arrays differ in length: " + before.length + " vs "
                    + after.length);
        }
        double max = 0;
        double sum = 0;
        double scale = 0;
        for (int i = 0; i < before.length; i++) {
            double d = Math.abs((double) before[i] - after[i]);
            max = Math.max(max, d);
            sum += d;
            scale = Math.max(scale, Math.abs(before[i]));
        }
        return new OutputChange(max, before.length == 0 ? 0 : sum / before.length, scale, probeTokens);
    }
}
