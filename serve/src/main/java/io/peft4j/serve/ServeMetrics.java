package io.peft4j.serve;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/** The server's Prometheus metrics (exposed at {@code GET /metrics} in the text format). */
public final class ServeMetrics {
    private static final double[] LATENCY_BOUNDS = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
            120};

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final Counter requests = Counter.builder().name("peft4j_requests")
            .help("HTTP requests by endpoint, requested model and status code")
            .labelNames("endpoint", "model", "status").register(registry);
    private final Counter adapterRequests = Counter.builder().name("peft4j_adapter_requests")
            .help("Generation requests admitted to the batch, per adapter (\"base\" without adapter)")
            .labelNames("adapter").register(registry);
    private final Counter promptTokens = Counter.builder().name("peft4j_prompt_tokens")
            .help("Prompt tokens prefilled, per requested model").labelNames("model").register(registry);
    private final Counter generatedTokens = Counter.builder().name("peft4j_generated_tokens")
            .help("Tokens generated, per requested model").labelNames("model").register(registry);
    private final Counter finished = Counter.builder().name("peft4j_generations_finished")
            .help("Generations ended, by finish reason (stop, length, cancelled, timeout, error)")
            .labelNames("reason").register(registry);
    private final Gauge queueDepth = Gauge.builder().name("peft4j_queue_depth")
            .help("Requests waiting to join the batch").register(registry);
    private final Gauge activeRows = Gauge.builder().name("peft4j_active_rows")
            .help("Requests in the running batch").register(registry);
    private final Histogram batchSize = Histogram.builder().name("peft4j_batch_size")
            .help("Rows per decode forward pass").classicOnly()
            .classicUpperBounds(1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64).register(registry);
    private final Histogram latency = Histogram.builder().name("peft4j_request_duration_seconds")
            .help("Time from request to last byte, per endpoint").classicOnly().classicUpperBounds(LATENCY_BOUNDS)
            .labelNames("endpoint").register(registry);
    private final Histogram firstToken = Histogram.builder().name("peft4j_time_to_first_token_seconds")
            .help("Time from request to its first generated token").classicOnly()
            .classicUpperBounds(LATENCY_BOUNDS).register(registry);
    private final Histogram queueWait = Histogram.builder().name("peft4j_queue_wait_seconds")
            .help("Time a request waited before joining the batch").classicOnly()
            .classicUpperBounds(LATENCY_BOUNDS).register(registry);

    public void request(String endpoint, String model, int status, double seconds) {
        requests.labelValues(endpoint, model == null ? "" : model, Integer.toString(status)).inc();
        latency.labelValues(endpoint).observe(seconds);
    }

    public void admitted(String adapterLabel, String model, int promptLength, double waitedSeconds) {
        adapterRequests.labelValues(adapterLabel).inc();
        promptTokens.labelValues(model).inc(promptLength);
        queueWait.observe(waitedSeconds);
    }

    public void firstToken(double seconds) {
        firstToken.observe(seconds);
    }

    public void generated(String model, int tokens) {
        generatedTokens.labelValues(model).inc(tokens);
    }

    public void finished(String reason) {
        finished.labelValues(reason).inc();
    }

    public void decodeStep(int rows) {
        batchSize.observe(rows);
    }

    public void occupancy(int queued, int rows) {
        queueDepth.set(queued);
        activeRows.set(rows);
    }

    /** Every metric in the Prometheus text format. */
    public String scrape() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            PrometheusTextFormatWriter.create().write(out, registry.scrape());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString(java.nio.charset.StandardCharsets.UTF_8);
    }

    public static String contentType() {
        return PrometheusTextFormatWriter.CONTENT_TYPE;
    }
}
