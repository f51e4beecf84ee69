/**
 * Causal language-model cross-entropy with Hugging Face's label shift and ignore index, plain and fused with
 * lm_head. It lives next to the model (whose training backward uses it) so that {@code model} never imports
 * {@code train}; {@code train} depends on {@code model}, not the other way round.
 */
package io.peft4j.core.model.loss;
