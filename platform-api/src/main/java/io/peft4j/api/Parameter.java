package io.peft4j.api;

import ai.djl.ndarray.NDArray;
import java.util.Objects;

/**
 * One tensor owned by an adapter.
 *
 * @param name      the in-memory name PEFT would use, including the adapter name, e.g.
 *                  {@code base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight}; policies such as
 *                  LoRA+ and the optimizer key their state by it
 * @param value     the tensor; for trainable parameters the platform turns on gradients
 * @param role      what the tensor is (see {@link ParamRole})
 * @param trainable whether the optimizer updates it
 */
public record Parameter(String name, NDArray value, ParamRole role, boolean trainable) {
    public Parameter {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(value, "value");
        Objects.requireNonNull(role, "role");
    }

    /** True for biases and normalisation weights, which get no weight decay by convention. */
    public boolean noDecay() {
        return role == ParamRole.BIAS || role == ParamRole.UP_BIAS || role == ParamRole.NORM;
    }
}
