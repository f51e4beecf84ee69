package io.peft4j.core.train.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Without a terminal: one plain line per log_every steps (mean loss since the last line) and one per eval. */
class ProgressReporterTest {
    private static List<String> run(boolean enabled) {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(buf, true, StandardCharsets.UTF_8);
        try (ProgressReporter r = new ProgressReporter(enabled, false, 5, 0, 2, out)) {
            assertThat(r.active()).isEqualTo(enabled);
            r.update(1, 1.0, 1e-3, 100);
            r.update(2, 3.0, 1e-3, 300);
            r.eval(2, 2.5, 2, 2.5);
            r.update(3, 1.0, 5e-4, 100);
            r.update(4, 1.0, 5e-4, 100);
            r.eval(4, 2.75, 2, 2.5);
            r.update(5, 0.5, 1e-4, 100);
            r.note("done");
        }
        return buf.toString(StandardCharsets.UTF_8).lines().toList();
    }

    @Test
    void plainLinesEveryLogEveryStepsAndPerEval() {
        List<String> lines = run(true);
        assertThat(lines).hasSize(6);
        assertThat(lines.get(0)).startsWith("step 2/5  loss 2.0000  lr 1.00e-03  200 tok/s  elapsed 0:00:0")
                .contains("  eta 0:00:");
        assertThat(lines.get(1)).isEqualTo("step 2/5  eval_loss 2.5000 (best)");
        assertThat(lines.get(2)).startsWith("step 4/5  loss 1.0000  lr 5.00e-04  100 tok/s");
        assertThat(lines.get(3)).isEqualTo("step 4/5  eval_loss 2.7500 (best 2.5000 at step 2)");
        assertThat(lines.get(4)).as("the last step always gets a line").startsWith("step 5/5  loss 0.5000");
        assertThat(lines.get(5)).isEqualTo("done");
    }

    @Test
    void disabledPrintsNothing() {
        assertThat(run(false)).isEmpty();
    }

    @Test
    void clockFormat() {
        assertThat(ProgressReporter.clock(java.time.Duration.ofSeconds(3725))).isEqualTo("1:02:05");
    }
}
