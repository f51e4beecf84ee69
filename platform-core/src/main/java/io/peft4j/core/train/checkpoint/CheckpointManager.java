package io.peft4j.core.train.checkpoint;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Checkpoints under {@code <dir>/step-N/}: {@code trainable.<ext>} (trainable tensors by parameter name),
 * {@code optimizer.<ext>} (AdamW moments) and {@code trainer_state.json} ({@link TrainerState}).
 *
 * <p>A checkpoint is written into a hidden temporary directory and renamed to {@code step-N} only when complete, so a
 * {@code step-N} directory is always a good checkpoint; a crash leaves at most a temporary directory, which is
 * removed next time. After a successful save only the newest {@code keepLast} checkpoints are kept, plus the one of
 * the best eval step the saved state names ({@link TrainerState#bestStep()}), as Hugging Face's
 * {@code save_total_limit} keeps {@code best_model_checkpoint}.
 */
public final class CheckpointManager {
    public static final String TRAINABLE = "trainable";
    public static final String OPTIMIZER = "optimizer";
    public static final String STATE_FILE = "trainer_state.json";
    private static final Pattern STEP_DIR = Pattern.compile("step-(\\d+)");
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final Path dir;
    private final int keepLast;
    private final TensorFileFormat format;

    /** A loaded checkpoint; the caller closes the tensors (they live in the manager given to {@link #load}). */
    public record Loaded(Path dir, TrainerState state, Map<String, NDArray> trainable, Map<String, NDArray> optimizer) {
    }

    /**
     * @param dir      the checkpoints directory (created when needed)
     * @param keepLast how many checkpoints to keep, &gt;= 1
     */
    public CheckpointManager(Path dir, int keepLast, TensorFileFormat format) {
        if (keepLast < 1) {
            throw new IllegalArgumentException("keep_checkpoints must be >= 1, got " + keepLast);
        }
        this.dir = dir;
        this.keepLast = keepLast;
        this.format = format;
    }

    public Path dir() {
        return dir;
    }

    /** Writes a checkpoint for {@code state.step()} and prunes old ones; returns its directory. */
    public Path save(TrainerState state, Map<String, NDArray> trainable, Map<String, NDArray> optimizer)
            throws IOException {
        Files.createDirectories(dir);
        removeTemporaries();
        Path target = dir.resolve("step-" + state.step());
        Path tmp = dir.resolve(".tmp-step-" + state.step() + "-" + System.nanoTime());
        Files.createDirectory(tmp);
        try {
            format.write(tmp.resolve(TRAINABLE + "." + format.extension()), trainable, Map.of("format", "pt"));
            format.write(tmp.resolve(OPTIMIZER + "." + format.extension()), optimizer, Map.of());
            AtomicFiles.write(tmp.resolve(STATE_FILE), JSON.writeValueAsBytes(state));
            if (Files.exists(target)) {
                // Re-saving a step (after a resume): move the old one aside first so a good one always exists.
                Path old = dir.resolve(".tmp-old-step-" + state.step() + "-" + System.nanoTime());
                AtomicFiles.move(target, old);
                AtomicFiles.move(tmp, target);
                deleteTree(old);
            } else {
                AtomicFiles.move(tmp, target);
            }
        } finally {
            if (Files.exists(tmp)) {
                deleteTree(tmp);
            }
        }
        prune(state.bestStep());
        return target;
    }

    /** The complete checkpoints, oldest first. */
    public List<Path> list() {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> STEP_DIR.matcher(p.getFileName().toString()).matches())
                    .filter(p -> Files.isRegularFile(p.resolve(STATE_FILE)))
                    .sorted(Comparator.comparingLong(CheckpointManager::stepOf))
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot list checkpoints: " + e.getMessage(), e);
        }
    }

    /** The newest complete checkpoint. */
    public Optional<Path> latest() {
        List<Path> all = list();
        return all.isEmpty() ? Optional.empty() : Optional.of(all.get(all.size() - 1));
    }

    /** Reads a checkpoint directory; tensors go into {@code manager}. */
    public Loaded load(Path checkpoint, NDManager manager) throws IOException {
        Path stateFile = checkpoint.resolve(STATE_FILE);
        if (!Files.isRegularFile(stateFile)) {
            throw new IOException(checkpoint + ": not a checkpoint (no " + STATE_FILE + ")");
        }
        TrainerState state = JSON.readValue(stateFile.toFile(), TrainerState.class);
        Map<String, NDArray> trainable = format.read(checkpoint.resolve(TRAINABLE + "." + format.extension()), manager);
        Map<String, NDArray> optimizer = format.read(checkpoint.resolve(OPTIMIZER + "." + format.extension()), manager);
        return new Loaded(checkpoint, state, trainable, optimizer);
    }

    /** The step number of a {@code step-N} directory. */
    public static long stepOf(Path p) {
        Matcher m = STEP_DIR.matcher(p.getFileName().toString());
        if (!m.matches()) {
            throw new IllegalArgumentException(p + " is not a step-N checkpoint directory");
        }
        return Long.parseLong(m.group(1));
    }

    /** Deletes the oldest checkpoints beyond {@code keepLast}, never the one of step {@code keep} (may be null). */
    private void prune(Integer keep) throws IOException {
        List<Path> all = list();
        for (Path p : all.subList(0, Math.max(0, all.size() - keepLast))) {
            if (keep == null || stepOf(p) != keep) {
                deleteTree(p);
            }
        }
    }

    private void removeTemporaries() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.filter(p -> p.getFileName().toString().startsWith(".tmp-")).toList()) {
                deleteTree(p);
            }
        }
    }

    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
