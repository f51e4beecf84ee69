package io.peft4j.core.train.metrics;

import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/** A console progress bar showing loss, learning rate and tokens/s; a no-op when disabled. */
public final class ProgressReporter implements AutoCloseable {
    private final ProgressBar bar;

    /**
     * @param enabled   false for tests and non-interactive runs (it is also off when there is no console)
     * @param totalSteps the number of optimizer steps
     * @param startStep  steps already done (resume)
     */
    public ProgressReporter(boolean enabled, int totalSteps, int startStep) {
        if (enabled && System.console() != null) {
            bar = new ProgressBarBuilder().setTaskName("train").setInitialMax(totalSteps)
                    .setStyle(ProgressBarStyle.ASCII).startsFrom(startStep, java.time.Duration.ZERO)
                    .continuousUpdate().build();
        } else {
            bar = null;
        }
    }

    public boolean active() {
        return bar != null;
    }

    public void update(int step, double loss, double lr, double tokensPerSecond) {
        if (bar != null) {
            bar.stepTo(step);
            bar.setExtraMessage(String.format(java.util.Locale.ROOT, "loss %.4f lr %.2e %.0f tok/s", loss, lr,
                    tokensPerSecond));
        }
    }

    @Override
    public void close() {
        if (bar != null) {
            bar.close();
        }
    }
}
