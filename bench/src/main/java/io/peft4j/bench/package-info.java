/**
 * {@code peft4j bench} (module {@code bench}, artifact {@code peft4j-bench}, outside the core jar): throughput, MFU and memory of LoRA / full fine-tuning and merged inference, measured the same
 * way as the PyTorch peer reference ({@code peer_lora_bench.py}) so the numbers are comparable: same model shapes
 * ({@link io.peft4j.bench.BenchShape}), batch and sequence length, FLOP formulas
 * ({@link io.peft4j.bench.FlopCount}), warm-up and median of timed steps, JSON field names.
 *
 * <p>Entry points: {@link io.peft4j.bench.BenchRunner#run(BenchOptions, java.io.PrintStream)} for tests, and
 * {@link io.peft4j.bench.BenchMain} for the command line ({@code peft4j bench} through {@link
 * io.peft4j.bench.BenchCommand}, or {@code java -cp}); {@link io.peft4j.bench.RandomCheckpoint} writes random-weight
 * checkpoints at real model shapes for {@code --model}. Output: one JSON line per
 * configuration, preceded by a {@code kind: env} line (machine, versions, threads, measured matmul peaks).
 */
package io.peft4j.bench;
