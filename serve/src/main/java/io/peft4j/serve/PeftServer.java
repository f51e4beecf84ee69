package io.peft4j.serve;

import io.peft4j.core.model.LlamaModel;
import io.peft4j.core.model.TextTokenizer;
import io.peft4j.core.peft.PeftModel;
import io.peft4j.core.plugin.InstalledExtensions;
import io.peft4j.serve.engine.AdapterLifecycle;
import io.peft4j.serve.engine.BatchEngine;
import io.peft4j.serve.engine.ServedModels;
import io.peft4j.serve.http.ChatFormat;
import io.peft4j.serve.http.OpenAiServer;
import io.peft4j.serve.http.Tokens;
import java.nio.file.Path;

/**
 * A running {@code peft4j serve}: the batch engine over a loaded base model and the HTTP API in front of it. The
 * model, tokenizer and PEFT model stay owned by the caller (close them after this).
 */
public final class PeftServer implements AutoCloseable {
    /**
     * @param adapterRoot  directory that {@code POST /v1/adapters} paths must lie in (null: loading over HTTP off)
     * @param maxBatchRows requests decoded together at most
     * @param queue        requests that may wait for a batch slot; more get 429
     */
    public record Options(String host, int port, String apiKey, Path adapterRoot, int maxBatchRows, int queue,
                          long timeoutMillis) {
        public Options {
            if (!isLoopback(host) && (apiKey == null || apiKey.isBlank())) {
                throw new io.peft4j.api.ConfigException("--api-key", "required when binding to " + host
                        + " (not a loopback address): clients must send Authorization: Bearer KEY");
            }
        }

        /** Loopback on {@code 127.0.0.1}, no key, no HTTP loading, 8 rows, 64 queued, 120 s. */
        public static Options loopback(int port) {
            return new Options("127.0.0.1", port, null, null, 8, 64, 120_000);
        }

        public Options withAdapterRoot(Path root) {
            return new Options(host, port, apiKey, root, maxBatchRows, queue, timeoutMillis);
        }

        public Options withApiKey(String key) {
            return new Options(host, port, key, adapterRoot, maxBatchRows, queue, timeoutMillis);
        }

        public Options withLimits(int rows, int queued, long timeout) {
            return new Options(host, port, apiKey, adapterRoot, rows, queued, timeout);
        }
    }

    private final BatchEngine engine;
    private final AdapterLifecycle adapters;
    private final OpenAiServer http;
    private final ServeMetrics metrics;

    private PeftServer(BatchEngine engine, AdapterLifecycle adapters, OpenAiServer http, ServeMetrics metrics) {
        this.engine = engine;
        this.adapters = adapters;
        this.http = http;
        this.metrics = metrics;
    }

    /**
     * Starts the engine and the HTTP server. Adapters already loaded into {@code peft} are not served; load them
     * with {@link #adapters()} (or over HTTP).
     *
     * @param baseId the base model's name in {@code /v1/models} besides {@code base}
     * @param chat   the chat template (null: the model has none; chat requests are refused)
     */
    public static PeftServer start(Options o, InstalledExtensions ext, LlamaModel model, TextTokenizer tokenizer,
                                   PeftModel peft, String baseId, ChatFormat chat) {
        ServeMetrics metrics = new ServeMetrics();
        peft.setActive(java.util.List.of());
        BatchEngine engine = new BatchEngine(model, peft, new ServedModels(baseId), metrics, o.maxBatchRows(),
                o.queue());
        try {
            AdapterLifecycle lifecycle = new AdapterLifecycle(engine, ext, o.adapterRoot());
            OpenAiServer http = new OpenAiServer(engine, lifecycle, new Tokens(tokenizer), chat, metrics,
                    new OpenAiServer.Settings(o.host(), o.port(), o.apiKey(), o.timeoutMillis(), 4 << 20,
                            Math.max(16, 2 * (o.maxBatchRows() + o.queue())))).start();
            return new PeftServer(engine, lifecycle, http, metrics);
        } catch (RuntimeException e) {
            engine.close();
            throw e;
        }
    }

    static boolean isLoopback(String host) {
        return host.equals("localhost") || host.startsWith("127.") || host.equals("::1") || host.equals("[::1]");
    }

    public int port() {
        return http.port();
    }

    public BatchEngine engine() {
        return engine;
    }

    public AdapterLifecycle adapters() {
        return adapters;
    }

    public ServeMetrics metrics() {
        return metrics;
    }

    /** Stops accepting requests, ends running ones, stops the engine thread. */
    @Override
    public void close() {
        http.close();
        engine.close();
    }
}
