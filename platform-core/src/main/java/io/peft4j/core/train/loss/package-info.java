/** Causal language-model cross-entropy with Hugging Face's label shift and ignore index. */
package io.peft4j.core.train.loss;
