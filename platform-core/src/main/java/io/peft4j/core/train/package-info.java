/**
 * Training: the {@link io.peft4j.core.train.Trainer} loop over a {@link io.peft4j.core.model.CausalLM}, with
 * {@link io.peft4j.core.train.TrainingConfig}, step callbacks and auxiliary losses. Sub-packages: {@code optim}
 * (AdamW, schedules, clipping), {@code data} (JSONL, tokenization, batching), {@code checkpoint} (atomic
 * checkpoints, resume), {@code metrics} (JSONL metrics, loss plot, progress bar). The cross-entropy is
 * {@code model.loss}, next to the model.
 */
package io.peft4j.core.train;
