/** Metrics JSONL, loss-curve PNG (XChart, headless) and the console progress bar. */
package io.peft4j.core.train.metrics;
