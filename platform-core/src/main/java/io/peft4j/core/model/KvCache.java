package io.peft4j.core.model;

/** Per-layer key/value cache for incremental decoding. (Filled in by the model implementation.) */
public class KvCache {
}
