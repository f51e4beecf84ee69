package io.peft4j.core.train;

/**
 * @param loss       mean cross-entropy per counted token over the whole eval set
 * @param perplexity {@code exp(loss)}
 * @param tokens     counted (label) tokens
 */
public record EvalResult(double loss, double perplexity, long tokens) {
}
