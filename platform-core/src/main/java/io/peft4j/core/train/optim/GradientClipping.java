package io.peft4j.core.train.optim;

import ai.djl.ndarray.NDArray;
import io.peft4j.api.Parameter;
import java.util.ArrayList;
import java.util.List;

/**
 * Global-norm gradient clipping with {@code torch.nn.utils.clip_grad_norm_} semantics (L2 norm):
 * {@code total = sqrt(sum_p ||g_p||^2)}; {@code coef = maxNorm / (total + 1e-6)}; if {@code coef < 1} every gradient is
 * multiplied by {@code coef} in place. Parameters without a gradient are ignored. Run outside the gradient collector.
 */
public final class GradientClipping {
    /** torch's constant added to the norm. */
    public static final double EPS = 1e-6;

    private GradientClipping() {
    }

    /** The global L2 norm of the gradients of the trainable parameters, without changing them. */
    public static double globalNorm(List<Parameter> parameters) {
        double sumSq = 0;
        for (Parameter p : parameters) {
            if (!p.trainable()) {
                continue;
            }
            try (NDArray g = AdamW.gradientOrNull(p.value())) {
                if (g != null) {
                    try (NDArray n = g.norm()) {
                        double v = n.getFloat();
                        sumSq += v * v;
                    }
                }
            }
        }
        return Math.sqrt(sumSq);
    }

    /**
     * Clips in place when {@code maxNorm > 0}; always returns the norm before clipping.
     *
     * @param maxNorm the largest allowed global norm; {@code <= 0} only measures
     */
    public static double clip(List<Parameter> parameters, double maxNorm) {
        double total = globalNorm(parameters);
        if (maxNorm > 0 && Double.isFinite(total)) {
            double coef = maxNorm / (total + EPS);
            if (coef < 1.0) {
                List<NDArray> grads = new ArrayList<>();
                try {
                    for (Parameter p : parameters) {
                        if (p.trainable()) {
                            NDArray g = AdamW.gradientOrNull(p.value());
                            if (g != null) {
                                grads.add(g);
                            }
                        }
                    }
                    for (NDArray g : grads) {
                        g.muli((float) coef); // the handle shares storage with the parameter's .grad
                    }
                } finally {
                    grads.forEach(NDArray::close);
                }
            }
        }
        return total;
    }
}
