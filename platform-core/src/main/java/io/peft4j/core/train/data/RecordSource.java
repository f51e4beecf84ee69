package io.peft4j.core.train.data;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Locale;
import java.util.Properties;
import java.util.function.Consumer;

/**
 * Streams the rows of a dataset file one at a time (the file is never held in memory), in file order, each with its
 * line or row number:
 * <ul>
 *   <li>{@code .jsonl} / {@code .ndjson}: JSON Lines (Jackson), one object per non-blank line;</li>
 *   <li>{@code .json}: a JSON array of objects, or JSON Lines (what Hugging Face {@code Dataset.to_json} writes by
 *       default), told apart by the first character;</li>
 *   <li>{@code .csv} / {@code .tsv}: with a header row, every value a string (DuckDB {@code read_csv});</li>
 *   <li>{@code .parquet}: nested columns (lists of structs such as {@code messages}) included (DuckDB
 *       {@code read_parquet}, no Hadoop).</li>
 * </ul>
 * DuckDB's Parquet, CSV and JSON readers are compiled into its JDBC driver, so nothing is downloaded.
 */
public final class RecordSource {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The file kinds by extension. */
    public enum Kind { JSONL, JSON, CSV, TSV, PARQUET, TXT }

    private RecordSource() {
    }

    /** The kind of {@code file} by its extension; an error naming the file for unknown extensions. */
    public static Kind kindOf(Path file) {
        String n = file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (n.endsWith(".jsonl") || n.endsWith(".ndjson")) {
            return Kind.JSONL;
        }
        if (n.endsWith(".json")) {
            return Kind.JSON;
        }
        if (n.endsWith(".csv")) {
            return Kind.CSV;
        }
        if (n.endsWith(".tsv")) {
            return Kind.TSV;
        }
        if (n.endsWith(".parquet")) {
            return Kind.PARQUET;
        }
        if (n.endsWith(".txt")) {
            return Kind.TXT;
        }
        throw new DatasetException(file + ": unknown dataset file type; expected .jsonl, .json, .csv, .tsv, "
                + ".parquet or .txt");
    }

    /** Calls {@code each} for every row of {@code file} (not for .txt files: see {@link PlainTextDataset}). */
    public static void forEach(Path file, Consumer<DataRecord> each) {
        if (!Files.isRegularFile(file)) {
            throw new DatasetException(file + ": no such file");
        }
        switch (kindOf(file)) {
            case JSONL -> jsonLines(file, each);
            case JSON -> {
                if (firstChar(file) == '[') {
                    jsonArray(file, each);
                } else {
                    jsonLines(file, each);
                }
            }
            case CSV -> duckDb(file, "read_csv(?, header = true, all_varchar = true)", "CSV", each);
            case TSV -> duckDb(file, "read_csv(?, header = true, all_varchar = true, delim = '\t')", "TSV", each);
            case PARQUET -> duckDb(file, "read_parquet(?)", "Parquet", each);
            case TXT -> throw new IllegalArgumentException("plain text files have no rows: " + file);
            default -> throw new IllegalStateException();
        }
    }

    private static int firstChar(Path file) {
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            int c;
            while ((c = r.read()) >= 0) {
                if (c != '\uFEFF' && !Character.isWhitespace(c)) {
                    return c;
                }
            }
            return -1;
        } catch (CharacterCodingException e) {
            throw new DatasetException(file + ": not valid UTF-8 text", e);
        } catch (IOException e) {
            throw new DatasetException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    private static void jsonLines(Path file, Consumer<DataRecord> each) {
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            int lineNo = 0;
            while ((line = r.readLine()) != null) {
                lineNo++;
                if (lineNo == 1 && line.startsWith("\uFEFF")) {
                    line = line.substring(1);
                }
                if (line.isBlank()) {
                    continue;
                }
                String where = file + ":" + lineNo;
                JsonNode node;
                try {
                    node = JSON.readTree(line);
                } catch (JsonProcessingException e) {
                    throw new DatasetException(where + ": not valid JSON: " + e.getOriginalMessage(), e);
                }
                each.accept(new DataRecord(object(node, where), where));
            }
        } catch (CharacterCodingException e) {
            throw new DatasetException(file + ": not valid UTF-8 text", e);
        } catch (IOException e) {
            throw new DatasetException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    private static void jsonArray(Path file, Consumer<DataRecord> each) {
        try (JsonParser p = JSON.getFactory().createParser(file.toFile())) {
            if (p.nextToken() != JsonToken.START_ARRAY) {
                throw new DatasetException(file + ": expected a JSON array of objects");
            }
            JsonToken t;
            while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
                if (t == null) {
                    throw new DatasetException(file + ": the JSON array is not closed (truncated file?)");
                }
                String where = file + ":" + p.currentTokenLocation().getLineNr();
                JsonNode node = p.readValueAsTree();
                each.accept(new DataRecord(object(node, where), where));
            }
        } catch (JsonProcessingException e) {
            throw new DatasetException(file + ":" + (e.getLocation() == null ? "?" : e.getLocation().getLineNr())
                    + ": not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new DatasetException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    private static ObjectNode object(JsonNode node, String where) {
        if (node == null || !node.isObject()) {
            throw new DatasetException(where + ": expected a JSON object, got "
                    + (node == null ? "nothing" : node.getNodeType().name().toLowerCase(Locale.ROOT)));
        }
        return (ObjectNode) node;
    }

    /**
     * Streams the rows of a DuckDB table function over {@code file}, each as the JSON of the whole row
     * ({@code to_json(row)}), so nested Parquet columns arrive as JSON lists and objects.
     */
    private static void duckDb(Path file, String tableFunction, String what, Consumer<DataRecord> each) {
        Properties props = new Properties();
        props.setProperty("jdbc_stream_results", "true");   // fetch in chunks: the file never has to fit in memory
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:", props)) {
            try (Statement s = c.createStatement()) {
                s.execute("SET autoinstall_known_extensions = false");
                s.execute("SET autoload_known_extensions = false");
                s.execute("SET preserve_insertion_order = true");
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT to_json(t) FROM " + tableFunction + " t")) {
                ps.setString(1, file.toAbsolutePath().toString());
                ps.setFetchSize(2048);
                try (ResultSet rs = ps.executeQuery()) {
                    long row = 0;
                    while (rs.next()) {
                        row++;
                        String where = file + " row " + row;
                        JsonNode node;
                        try {
                            node = JSON.readTree(rs.getString(1));
                        } catch (JsonProcessingException e) {
                            throw new DatasetException(where + ": cannot convert the row: " + e.getOriginalMessage(), e);
                        }
                        each.accept(new DataRecord(object(node, where), where));
                    }
                }
            }
        } catch (SQLException e) {
            throw new DatasetException(file + ": cannot read as " + what + ": " + firstLine(e.getMessage()), e);
        }
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "unknown error";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl).trim();
    }
}
