/** AdamW (PyTorch semantics), Hugging Face learning-rate schedules and torch-style global-norm clipping. */
package io.peft4j.core.train.optim;
