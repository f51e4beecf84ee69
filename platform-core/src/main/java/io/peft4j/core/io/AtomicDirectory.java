package io.peft4j.core.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Writes a whole directory (an adapter, a merged model, a checkpoint) into a temporary sibling and renames it into
 * place; the previous directory is removed only after the new one is complete, so an interrupted write never
 * replaces good content with half-written content.
 */
public final class AtomicDirectory {
    /** Fills a fresh directory. */
    public interface Writer {
        void write(Path dir) throws IOException;
    }

    private AtomicDirectory() {
    }

    public static void write(Path target, Writer writer) throws IOException {
        Path t = target.toAbsolutePath().normalize();
        Path tmp = t.resolveSibling(t.getFileName() + ".tmp-" + ProcessHandle.current().pid());
        deleteTree(tmp);
        Files.createDirectories(tmp);
        try {
            writer.write(tmp);
        } catch (IOException | RuntimeException e) {
            deleteTree(tmp);
            throw e;
        }
        Path old = t.resolveSibling(t.getFileName() + ".old-" + ProcessHandle.current().pid());
        boolean had = Files.exists(t);
        if (had) {
            deleteTree(old);
            Files.move(t, old, StandardCopyOption.ATOMIC_MOVE);
        }
        Files.move(tmp, t, StandardCopyOption.ATOMIC_MOVE);
        if (had) {
            deleteTree(old);
        }
    }

    public static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path x : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(x);
            }
        }
    }
}
