package io.peft4j.spark;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;

/**
 * Where a data-parallel run's step time goes, and how many bytes it moves. Gradient bytes are Spark's own count of
 * the serialized task results ({@code TaskMetrics.resultSize}) while the run is registered as a listener.
 */
public final class ExchangeStats extends SparkListener {
    private final String jobGroup;
    private final AtomicLong resultBytes = new AtomicLong();
    private final AtomicLong tasks = new AtomicLong();
    private final AtomicLong failedTasks = new AtomicLong();
    private final List<Step> steps = new ArrayList<>();

    /** One step as the driver saw it (nanoseconds; {@code start} is {@code System.nanoTime()}). */
    private record Step(long start, long broadcast, long job, long criticalCompute, long apply, long stateBytes,
                        int executors) {
        long exchange() {
            return broadcast + Math.max(0, job - criticalCompute) + apply;
        }
    }

    ExchangeStats(String jobGroup) {
        this.jobGroup = jobGroup;
    }

    String jobGroup() {
        return jobGroup;
    }

    @Override
    public void onTaskEnd(SparkListenerTaskEnd end) {
        if (end.taskInfo() == null) {
            return;
        }
        if (!end.taskInfo().successful()) {
            failedTasks.incrementAndGet();
        } else if (end.taskMetrics() != null) {
            resultBytes.addAndGet(end.taskMetrics().resultSize());
            tasks.incrementAndGet();
        }
    }

    synchronized void recordStep(long start, long broadcast, long job, long critical, long apply, long stateBytes,
                                 int executors) {
        steps.add(new Step(start, broadcast, job, critical, apply, stateBytes, executors));
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

    /**
     * Totals as a JSON-friendly map. Rates and shares are measured over the steps after the first {@code warmup}
     * (the first step also loads the model replica on every executor): from the start of step {@code warmup + 1} to
     * the start of the last step.
     */
    public synchronized Map<String, Object> summary(int warmup) {
        Map<String, Object> m = new LinkedHashMap<>();
        int n = steps.size();
        m.put("steps", n);
        m.put("executors", steps.stream().mapToInt(Step::executors).max().orElse(0));
        m.put("tasks", tasks.get());
        m.put("failed_task_attempts", failedTasks.get());
        m.put("gradient_bytes_per_step", n == 0 ? 0 : resultBytes.get() / (double) n);
        m.put("state_bytes_per_step", n == 0 ? 0 : steps.stream().mapToLong(Step::stateBytes).sum() / (double) n);
        int from = Math.min(warmup, Math.max(0, n - 2));
        if (n - from >= 2) {
            double wall = (steps.get(n - 1).start() - steps.get(from).start()) / 1e9;
            List<Step> timed = steps.subList(from, n - 1);
            double exchange = timed.stream().mapToLong(Step::exchange).sum() / 1e9;
            m.put("measured_steps", timed.size());
            m.put("steps_per_s", timed.size() / wall);
            m.put("step_seconds", wall / timed.size());
            m.put("exchange_seconds_per_step", exchange / timed.size());
            m.put("exchange_share", exchange / wall);
            m.put("critical_compute_seconds_per_step",
                    timed.stream().mapToLong(Step::criticalCompute).sum() / 1e9 / timed.size());
            m.put("broadcast_seconds_per_step", timed.stream().mapToLong(Step::broadcast).sum() / 1e9 / timed.size());
            m.put("job_seconds_per_step", timed.stream().mapToLong(Step::job).sum() / 1e9 / timed.size());
            m.put("apply_seconds_per_step", timed.stream().mapToLong(Step::apply).sum() / 1e9 / timed.size());
        }
        return m;
    }

    synchronized int steps() {
        return steps.size();
    }
}
