/**
 * {@code peft4j bench}: throughput, MFU and memory of LoRA / full fine-tuning and merged inference, measured the same
 * way as the PyTorch peer reference ({@code peer_lora_bench.py}) so the numbers are comparable: same model shapes
 * ({@link io.peft4j.core.bench.BenchShape}), batch and sequence length, FLOP formulas
 * ({@link io.peft4j.core.bench.FlopCount}), warm-up and median of timed steps, JSON field names.
 *
 * <p>Entry points: {@link io.peft4j.core.bench.BenchRunner#run(BenchOptions, java.io.PrintStream)} for the CLI, and
 * {@link io.peft4j.core.bench.BenchMain} for the command line before the CLI exists. Output: one JSON line per
 * configuration, preceded by a {@code kind: env} line (machine, versions, threads, measured matmul peaks).
 */
package io.peft4j.core.bench;
