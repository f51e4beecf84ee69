package io.peft4j.api;

/** The base optimizer hyper-parameters from the configuration (AdamW, PyTorch semantics). */
public record OptimizerSettings(double lr, double weightDecay, double beta1, double beta2, double eps) {
}
