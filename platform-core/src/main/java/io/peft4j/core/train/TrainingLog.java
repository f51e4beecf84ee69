package io.peft4j.core.train;

import io.peft4j.core.train.metrics.LossCurvePlot;
import io.peft4j.core.train.metrics.MetricsLog;
import io.peft4j.core.train.metrics.MetricsRecord;
import io.peft4j.core.train.metrics.ProgressReporter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * What a run reports while it trains: {@code metrics.jsonl} lines, the loss plot and the progress bar. A logged line's
 * training fields cover the steps since the previous logged line (mean loss, summed tokens, tokens over their wall
 * time); an eval line carries the eval fields, and the plot is redrawn after every eval and at the end.
 */
final class TrainingLog implements AutoCloseable {
    private final MetricsLog log;
    private final ProgressReporter bar;
    private final Path plot;
    private double loss;
    private int steps;
    private long tokens;
    private long nanos;

    /** Opens the metrics file keeping the lines up to {@code startStep} (a resumed run) and the progress bar. */
    TrainingLog(Path out, TrainingConfig config, int totalSteps, int startStep) throws IOException {
        this.plot = out.resolve(Trainer.PLOT_FILE);
        this.log = new MetricsLog(out.resolve(Trainer.METRICS_FILE), startStep);
        this.bar = new ProgressReporter(config.progressBar(), totalSteps, startStep, config.logEvery());
    }

    /**
     * Reports optimizer step {@code m}, which took {@code stepNanos}; {@code ev} is its eval or null. With
     * {@code logNow} the interval's training fields are written and the interval starts again.
     */
    void step(StepMetrics m, long stepNanos, EvalResult ev, boolean logNow, double elapsed, BestEval best)
            throws IOException {
        loss += m.loss();
        steps++;
        tokens += m.tokens();
        nanos += stepNanos;
        if (logNow || ev != null) {
            log.append(new MetricsRecord(m.step(),
                    logNow ? loss / steps : null,
                    logNow ? m.lr() : null,
                    logNow ? m.gradNorm() : null,
                    logNow ? tokens : null,
                    logNow ? tokens / Math.max(1e-9, nanos / 1e9) : null,
                    ev != null ? ev.loss() : null,
                    ev != null ? ev.perplexity() : null,
                    elapsed));
            if (logNow) {
                loss = 0;
                steps = 0;
                tokens = 0;
                nanos = 0;
            }
        }
        if (ev != null) {
            LossCurvePlot.write(plot, log.history());
        }
        bar.update(m.step(), m.loss(), m.lr(), m.tokens() / Math.max(1e-9, stepNanos / 1e9));
        if (ev != null) {
            bar.eval(m.step(), ev.loss(), best.step(), best.loss());
        }
    }

    /** The progress-bar note for a run that stops early at {@code step}. */
    void stoppedEarly(int step, BestEval best) {
        int n = best.evalsWithoutImprovement();
        bar.note(String.format(Locale.ROOT, "early stopping at step %d: no improvement in %d eval%s (best %.4f at "
                + "step %d)", step, n, n == 1 ? "" : "s", best.loss(), best.step()));
    }

    /** Draws the final loss plot. */
    void finish() throws IOException {
        LossCurvePlot.write(plot, log.history());
    }

    @Override
    public void close() throws IOException {
        try (log) {
            bar.close();
        }
    }
}
