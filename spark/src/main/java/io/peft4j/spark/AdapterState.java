package io.peft4j.spark;

import java.io.Serializable;
import java.util.List;

/**
 * The trainable values the driver broadcasts before a step, in {@link io.peft4j.core.train.FlatParameters} order.
 *
 * @param version unique per run and step: an executor whose replica already holds it skips the copy
 * @param layout  parameter names with shapes; an executor checks that its replica has the same layout
 */
record AdapterState(String version, List<String> layout, float[] values) implements Serializable {
}
