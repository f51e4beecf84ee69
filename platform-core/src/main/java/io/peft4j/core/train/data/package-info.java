/** JSONL training data, tokenization, padding/packing into batches, seeded shuffling and train/eval split. */
package io.peft4j.core.train.data;
