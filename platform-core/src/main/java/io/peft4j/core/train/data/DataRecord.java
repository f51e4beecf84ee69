package io.peft4j.core.train.data;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * One row of a dataset file, as a JSON object whatever the file format.
 *
 * @param fields the row's columns (a JSONL line's object, a Parquet or CSV row)
 * @param where  file and position for messages: {@code train.jsonl:12} (line) or {@code train.parquet row 12}
 */
public record DataRecord(ObjectNode fields, String where) {
}
