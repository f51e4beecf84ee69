/**
 * Training data: dataset files of every kind ({@link io.peft4j.core.train.data.RecordSource}: JSONL, JSON, CSV,
 * Parquet, plain text) in every format ({@link io.peft4j.core.train.data.DataFormat}: text, prompt/completion, chat
 * messages, alpaca), tokenized with loss masks ({@link io.peft4j.core.train.data.Datasets},
 * {@link io.peft4j.core.train.data.ChatMasking}); padding/packing into batches, seeded shuffling, train/eval split.
 */
package io.peft4j.core.train.data;
