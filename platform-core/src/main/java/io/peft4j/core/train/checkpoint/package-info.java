/** Atomic training checkpoints (trainable tensors, optimizer state, trainer state), pruning and resume. */
package io.peft4j.core.train.checkpoint;
