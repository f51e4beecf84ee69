/**
 * Tensor file formats: a memory-mapped safetensors reader ({@link io.peft4j.core.io.SafetensorsReader}), an atomic
 * writer ({@link io.peft4j.core.io.SafetensorsWriter}), sharded Hugging Face checkpoints
 * ({@link io.peft4j.core.io.SafetensorsCheckpoint}) and atomic file writes ({@link io.peft4j.core.io.AtomicFiles}).
 */
package io.peft4j.core.io;
