package io.peft4j.bench;

/**
 * The peer's FLOP model. With {@code N} = base linear weights (every projection of every layer plus lm_head),
 * {@code N_lora} = LoRA parameters, {@code tok = B·T} and {@code attn = 4·B·T²·dim·layers} (QKᵀ and PV over the
 * full square, as eager attention computes it):
 * <pre>
 *   forward      = 2 (N + N_lora) tok + attn
 *   LoRA train   = 4 N tok + 6 N_lora tok + 3 attn      (no weight gradient of the frozen base)
 *   full train   = 6 N tok + 3 attn
 * </pre>
 */
public final class FlopCount {
    private FlopCount() {
    }

    public static double attention(long batch, long seq, long dim, long layers) {
        return 4.0 * batch * seq * seq * dim * layers;
    }

    public static double forward(long nLinear, long nLora, long tokens, double attn) {
        return 2.0 * (nLinear + nLora) * tokens + attn;
    }

    public static double loraTrain(long nLinear, long nLora, long tokens, double attn) {
        return 4.0 * nLinear * tokens + 6.0 * nLora * tokens + 3.0 * attn;
    }

    public static double fullTrain(long nLinear, long tokens, double attn) {
        return 6.0 * nLinear * tokens + 3.0 * attn;
    }
}
