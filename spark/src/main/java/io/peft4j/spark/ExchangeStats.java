package io.peft4j.spark;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;

/**
 * Where a data-parallel run's step time goes, and how many bytes it moves. Gradient bytes are Spark's own count of
 * the serialized task results ({@code TaskMetrics.resultSize}) of this run's jobs.
 */
public final class ExchangeStats extends SparkListener {
    private final String jobGroup;
    private final AtomicLong resultBytes = new AtomicLong();
    private final AtomicLong tasks = new AtomicLong();
    private final AtomicLong failedTasks = new AtomicLong();
    private int steps;
    private long stateBytes;
    private long broadcastNanos;
    private long jobNanos;
    private long criticalComputeNanos;
    private long applyNanos;
    private int maxExecutors;

    ExchangeStats(String jobGroup) {
        this.jobGroup = jobGroup;
    }

    String jobGroup() {
        return jobGroup;
    }

    @Override
    public void onTaskEnd(SparkListenerTaskEnd end) {
        // Counts every task of the context while registered: a run registers it for its own duration only.
        if (end.taskInfo() == null) {
            return;
        }
        if (!end.taskInfo().successful()) {
            failedTasks.incrementAndGet();
            return;
        }
        if (end.taskMetrics() != null) {
            resultBytes.addAndGet(end.taskMetrics().resultSize());
            tasks.incrementAndGet();
        }
    }

    synchronized void recordStep(long stateBytesOut, long broadcast, long job, long critical, long apply,
                                 int executors) {
        steps++;
        stateBytes += stateBytesOut;
        broadcastNanos += broadcast;
        jobNanos += job;
        criticalComputeNanos += critical;
        applyNanos += apply;
        maxExecutors = Math.max(maxExecutors, executors);
    }

    /** Waits (up to 10 s) until the listener bus has delivered the end of {@code expectedTasks} tasks. */
    void awaitTasks(long expectedTasks) {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (tasks.get() < expectedTasks && System.nanoTime() < deadline) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** The totals as a JSON-friendly map (seconds and bytes). */
    public synchronized Map<String, Object> summary() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("steps", steps);
        m.put("executors", maxExecutors);
        m.put("tasks", tasks.get());
        m.put("failed_task_attempts", failedTasks.get());
        m.put("gradient_bytes_per_step", steps == 0 ? 0 : resultBytes.get() / (double) steps);
        m.put("state_bytes_per_step", steps == 0 ? 0 : stateBytes / (double) steps);
        m.put("broadcast_seconds", broadcastNanos / 1e9);
        m.put("job_seconds", jobNanos / 1e9);
        m.put("critical_compute_seconds", criticalComputeNanos / 1e9);
        m.put("apply_gradient_seconds", applyNanos / 1e9);
        // Exchange: everything of the step's gradient round trip that is not forward/backward on the critical path.
        m.put("exchange_seconds", exchangeNanos() / 1e9);
        return m;
    }

    synchronized long exchangeNanos() {
        return broadcastNanos + Math.max(0, jobNanos - criticalComputeNanos) + applyNanos;
    }

    synchronized int steps() {
        return steps;
    }

    long resultBytes() {
        return resultBytes.get();
    }
}
