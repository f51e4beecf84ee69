package io.peft4j.core.train.metrics;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.peft4j.core.train.checkpoint.AtomicFiles;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code metrics.jsonl}: one {@link MetricsRecord} per line, flushed as it is written so a crashed or running job can
 * be inspected. On resume from step {@code s}, lines for steps after {@code s} (written by the interrupted run after
 * its last checkpoint) are dropped, so the file reads as one consistent run.
 */
public final class MetricsLog implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final Path file;
    private final List<MetricsRecord> history = new ArrayList<>();
    private final BufferedWriter out;

    /**
     * @param keepUpToStep on an existing file, keep lines up to this step (0 starts afresh)
     */
    public MetricsLog(Path file, int keepUpToStep) throws IOException {
        this.file = file;
        Files.createDirectories(file.toAbsolutePath().getParent());
        if (keepUpToStep > 0 && Files.exists(file)) {
            StringBuilder kept = new StringBuilder();
            int lineNo = 0;
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                lineNo++;
                if (line.isBlank()) {
                    continue;
                }
                MetricsRecord r;
                try {
                    r = JSON.readValue(line, MetricsRecord.class);
                } catch (IOException e) {
                    throw new IOException(file + ":" + lineNo + ": not a metrics record: " + e.getMessage(), e);
                }
                if (r.step() <= keepUpToStep) {
                    history.add(r);
                    kept.append(line).append('\n');
                }
            }
            AtomicFiles.write(file, kept.toString().getBytes(StandardCharsets.UTF_8));
        } else {
            AtomicFiles.write(file, new byte[0]);
        }
        out = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.APPEND);
    }

    public Path file() {
        return file;
    }

    public void append(MetricsRecord r) {
        try {
            out.write(JSON.writeValueAsString(r));
            out.write('\n');
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot write metrics: " + e.getMessage(), e);
        }
        history.add(r);
    }

    /** Every record of this run (including those kept from before a resume). */
    public List<MetricsRecord> history() {
        return List.copyOf(history);
    }

    @Override
    public void close() throws IOException {
        out.close();
    }
}
