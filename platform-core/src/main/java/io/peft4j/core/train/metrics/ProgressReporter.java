package io.peft4j.core.train.metrics;

import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Training progress for people: on a terminal a progress bar (steps, loss, learning rate, tokens/s, elapsed and
 * ETA, the last eval); otherwise (output redirected to a file or a CI log) one plain line every {@code logEvery}
 * steps and one per eval, on stdout. Nothing when disabled.
 */
public final class ProgressReporter implements AutoCloseable {
    private final ProgressBar bar;
    private final PrintStream lines;
    private final int totalSteps;
    private final int startStep;
    private final int logEvery;
    private final long startNanos = System.nanoTime();
    private final List<String> notes = new ArrayList<>();
    private String stepText = "";
    private String evalText = "";
    private double lossSum;
    private double tokensPerSecondSum;
    private int pending;

    /**
     * @param enabled    false for tests and machine-read runs
     * @param totalSteps the number of optimizer steps
     * @param startStep  steps already done (resume)
     * @param logEvery   without a terminal, a line every this many steps (and at the last)
     */
    public ProgressReporter(boolean enabled, int totalSteps, int startStep, int logEvery) {
        this(enabled, System.console() != null, totalSteps, startStep, logEvery, System.out);
    }

    /** As above, with the terminal decision and the stream for plain lines given (tests). */
    ProgressReporter(boolean enabled, boolean terminal, int totalSteps, int startStep, int logEvery,
                     PrintStream out) {
        this.totalSteps = totalSteps;
        this.startStep = startStep;
        this.logEvery = Math.max(1, logEvery);
        if (enabled && terminal) {
            bar = new ProgressBarBuilder().setTaskName("train").setInitialMax(totalSteps)
                    .setStyle(ProgressBarStyle.ASCII).startsFrom(startStep, Duration.ZERO)
                    .continuousUpdate().build();
            lines = null;
        } else {
            bar = null;
            lines = enabled ? out : null;
        }
    }

    public boolean active() {
        return bar != null || lines != null;
    }

    /** After each optimizer step. */
    public void update(int step, double loss, double lr, double tokensPerSecond) {
        if (bar != null) {
            bar.stepTo(step);
            stepText = String.format(Locale.ROOT, "loss %.4f lr %.2e %.0f tok/s", loss, lr, tokensPerSecond);
            bar.setExtraMessage(stepText + evalText);
            return;
        }
        if (lines == null) {
            return;
        }
        lossSum += loss;
        tokensPerSecondSum += tokensPerSecond;
        pending++;
        if (step % logEvery == 0 || step == totalSteps) {
            lines.printf(Locale.ROOT, "step %d/%d  loss %.4f  lr %.2e  %.0f tok/s  elapsed %s  eta %s%n", step,
                    totalSteps, lossSum / pending, lr, tokensPerSecondSum / pending, clock(elapsed()),
                    clock(eta(step)));
            lossSum = 0;
            tokensPerSecondSum = 0;
            pending = 0;
        }
    }

    /** After an eval at {@code step}; {@code bestStep}/{@code bestLoss} are the best eval so far. */
    public void eval(int step, double loss, Integer bestStep, Double bestLoss) {
        String best = bestStep == null ? "" : bestStep == step ? " (best)"
                : String.format(Locale.ROOT, " (best %.4f at step %d)", bestLoss, bestStep);
        if (bar != null) {
            evalText = String.format(Locale.ROOT, " | eval %.4f%s", loss, best);
            bar.setExtraMessage(stepText + evalText);
            bar.refresh();
        } else if (lines != null) {
            lines.printf(Locale.ROOT, "step %d/%d  eval_loss %.4f%s%n", step, totalSteps, loss, best);
        }
    }

    /** A message for the user (printed below the bar once it is closed). */
    public void note(String message) {
        if (bar != null) {
            notes.add(message);
        } else if (lines != null) {
            lines.println(message);
        }
    }

    private Duration elapsed() {
        return Duration.ofNanos(System.nanoTime() - startNanos);
    }

    private Duration eta(int step) {
        int done = step - startStep;
        return done <= 0 ? Duration.ZERO : elapsed().dividedBy(done).multipliedBy(totalSteps - step);
    }

    static String clock(Duration d) {
        long s = d.toSeconds();
        return String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
    }

    @Override
    public void close() {
        if (bar != null) {
            bar.close();
            notes.forEach(System.out::println);
        }
    }
}
