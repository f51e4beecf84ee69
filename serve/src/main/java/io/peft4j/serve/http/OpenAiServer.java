package io.peft4j.serve.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.peft4j.serve.ServeMetrics;
import io.peft4j.serve.engine.AdapterLifecycle;
import io.peft4j.serve.engine.BatchEngine;
import io.peft4j.serve.engine.FinishReason;
import io.peft4j.serve.engine.GenerationRequest;
import io.peft4j.serve.engine.ServeException;
import io.peft4j.serve.engine.ServedModels;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The OpenAI-compatible HTTP API over a {@link BatchEngine}: {@code POST /v1/completions},
 * {@code POST /v1/chat/completions} (both also as server-sent events with {@code stream: true}),
 * {@code GET /v1/models}, {@code POST /v1/adapters}, {@code DELETE /v1/adapters/{name}}, {@code GET /health},
 * {@code GET /metrics}. Runs on Jetty 12's core handler API; each request is handled on its own pooled thread that
 * waits for the engine's tokens, so a write failing on a gone client cancels that request only.
 */
public final class OpenAiServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(OpenAiServer.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * @param apiKey        required as {@code Authorization: Bearer KEY} on every endpoint but {@code /health}
     *                      (null: no key)
     * @param timeoutMillis per-request limit, queueing included
     * @param maxBodyBytes  larger request bodies are refused (413)
     */
    public record Settings(String host, int port, String apiKey, long timeoutMillis, int maxBodyBytes,
                           int httpThreads) {
    }

    private final BatchEngine engine;
    private final AdapterLifecycle adapters;
    private final Tokens tokens;
    private final ChatFormat chat;
    private final ServeMetrics metrics;
    private final Settings settings;
    private final long created = System.currentTimeMillis() / 1000;
    private final Server server;
    private final ServerConnector connector;

    /** @param chat the chat template, or null when the model has none (chat requests are then refused) */
    public OpenAiServer(BatchEngine engine, AdapterLifecycle adapters, Tokens tokens, ChatFormat chat,
                        ServeMetrics metrics, Settings settings) {
        this.engine = engine;
        this.adapters = adapters;
        this.tokens = tokens;
        this.chat = chat;
        this.metrics = metrics;
        this.settings = settings;
        QueuedThreadPool pool = new QueuedThreadPool(Math.max(8, settings.httpThreads()), 2);
        pool.setName("peft4j-http");
        this.server = new Server(pool);
        this.connector = new ServerConnector(server, 1, 1, new HttpConnectionFactory());
        connector.setHost(settings.host());
        connector.setPort(settings.port());
        connector.setIdleTimeout(settings.timeoutMillis() + 30_000);
        server.addConnector(connector);
        server.setHandler(new Routes());
    }

    public OpenAiServer start() {
        try {
            server.start();
        } catch (Exception e) {
            throw new IllegalStateException("cannot start the HTTP server on " + settings.host() + ":"
                    + settings.port() + ": " + e.getMessage(), e);
        }
        return this;
    }

    /** The bound port (useful with port 0). */
    public int port() {
        return connector.getLocalPort();
    }

    @Override
    public void close() {
        try {
            server.stop();
        } catch (Exception e) {
            LOG.warn("stopping the HTTP server", e);
        }
    }

    private final class Routes extends Handler.Abstract {
        @Override
        public boolean handle(Request req, Response res, Callback cb) {
            long t0 = System.nanoTime();
            String path = Request.getPathInContext(req);
            String method = req.getMethod();
            String[] endpoint = {path.startsWith("/v1/adapters/") ? "/v1/adapters/{name}" : path};
            String[] model = {null};
            int status;
            try {
                status = route(req, res, cb, path, method, endpoint, model);
            } catch (ServeException e) {
                status = e.status();
                writeJson(res, cb, e.status(), errorBody(e));
            } catch (RuntimeException e) {
                LOG.error("{} {} failed", method, path, e);
                status = 500;
                writeJson(res, cb, 500, errorBody(new ServeException(500, "server_error", null, null,
                        "internal error: " + e.getMessage())));
            }
            if (!endpoint[0].equals("/metrics") && !endpoint[0].equals("/health")) {
                metrics.request(known(endpoint[0]), model[0], status, (System.nanoTime() - t0) / 1e9);
            }
            return true;
        }
    }

    /** Endpoint label for metrics: a known route or "other" (unbounded label values would grow forever). */
    private static String known(String endpoint) {
        return Set.of("/v1/completions", "/v1/chat/completions", "/v1/models", "/v1/adapters",
                "/v1/adapters/{name}").contains(endpoint) || endpoint.startsWith("/v1/models/")
                ? (endpoint.startsWith("/v1/models/") ? "/v1/models/{id}" : endpoint) : "other";
    }

    /** Dispatches; returns the HTTP status written (for metrics). */
    private int route(Request req, Response res, Callback cb, String path, String method, String[] endpoint,
                      String[] model) throws ServeException {
        if (path.equals("/health")) {
            requireMethod(method, "GET");
            return writeJson(res, cb, 200, health());
        }
        authorize(req);
        switch (path) {
            case "/metrics" -> {
                requireMethod(method, "GET");
                res.setStatus(200);
                res.getHeaders().put(HttpHeader.CONTENT_TYPE, ServeMetrics.contentType());
                Content.Sink.write(res, true, metrics.scrape(), cb);
                return 200;
            }
            case "/v1/models" -> {
                requireMethod(method, "GET");
                ObjectNode list = JSON.createObjectNode().put("object", "list");
                ArrayNode data = list.putArray("data");
                for (ServedModels.Info i : engine.models().list()) {
                    data.add(modelObject(i));
                }
                return writeJson(res, cb, 200, list);
            }
            case "/v1/completions", "/v1/chat/completions" -> {
                requireMethod(method, "POST");
                return generate(req, res, cb, path.equals("/v1/chat/completions"), model);
            }
            case "/v1/adapters" -> {
                requireMethod(method, "POST");
                return loadAdapter(readJson(req), res, cb);
            }
            default -> {
                if (path.startsWith("/v1/models/")) {
                    requireMethod(method, "GET");
                    String id = path.substring("/v1/models/".length());
                    return engine.models().list().stream().filter(i -> i.id().equals(id)).findFirst()
                            .map(i -> writeJson(res, cb, 200, modelObject(i)))
                            .orElseThrow(() -> ServeException.modelNotFound("The model `" + id + "` does not exist"));
                }
                if (path.startsWith("/v1/adapters/")) {
                    requireMethod(method, "DELETE");
                    String name = path.substring("/v1/adapters/".length());
                    adapters.delete(name);
                    return writeJson(res, cb, 200, JSON.createObjectNode().put("id", name).put("object", "model")
                            .put("deleted", true));
                }
                endpoint[0] = "other";
                throw new ServeException(404, "invalid_request_error", "unknown_url", null,
                        "Unknown request URL: " + method + " " + path);
            }
        }
    }

    private static void requireMethod(String method, String allowed) {
        if (!method.equals(allowed)) {
            throw new ServeException(405, "invalid_request_error", "method_not_allowed", null,
                    "method " + method + " is not allowed here; use " + allowed);
        }
    }

    private void authorize(Request req) {
        if (settings.apiKey() == null) {
            return;
        }
        String h = req.getHeaders().get(HttpHeader.AUTHORIZATION);
        String given = h != null && h.regionMatches(true, 0, "Bearer ", 0, 7) ? h.substring(7).strip() : "";
        if (!MessageDigest.isEqual(given.getBytes(StandardCharsets.UTF_8),
                settings.apiKey().getBytes(StandardCharsets.UTF_8))) {
            throw new ServeException(401, "invalid_request_error", "invalid_api_key", null,
                    h == null ? "You didn't provide an API key: send it as 'Authorization: Bearer KEY'"
                            : "Incorrect API key provided");
        }
    }

    private JsonNode readJson(Request req) {
        byte[] body;
        try (InputStream in = Request.asInputStream(req)) {
            body = in.readNBytes(settings.maxBodyBytes() + 1);
        } catch (IOException e) {
            throw ServeException.invalid(null, "could not read the request body: " + e.getMessage());
        }
        if (body.length > settings.maxBodyBytes()) {
            throw new ServeException(413, "invalid_request_error", "request_too_large", null,
                    "the request body exceeds " + settings.maxBodyBytes() + " bytes");
        }
        try {
            JsonNode n = JSON.readTree(body);
            if (n == null || n.isMissingNode()) {
                throw ServeException.invalid(null, "the request body is empty; send a JSON object");
            }
            return n;
        } catch (JsonProcessingException e) {
            throw ServeException.invalid(null, "We could not parse the JSON body of your request: "
                    + e.getOriginalMessage() + " (line " + e.getLocation().getLineNr() + ", column "
                    + e.getLocation().getColumnNr() + ")");
        } catch (IOException e) {
            throw ServeException.invalid(null, "could not read the request body: " + e.getMessage());
        }
    }

    // ------------------------------------------------------------------------------------------ generation

    private int generate(Request req, Response res, Callback cb, boolean isChat, String[] modelOut) {
        JsonNode body = readJson(req);
        GenerationParams p = GenerationParams.parse(body, isChat);
        modelOut[0] = p.model();
        long[] prompt;
        String promptField;
        if (isChat) {
            if (chat == null) {
                throw ServeException.invalid("messages", "this model has no chat template (no chat_template in "
                        + "its tokenizer_config.json); start the server with --chat-template FILE, or use "
                        + "/v1/completions");
            }
            prompt = tokens.encodeRendered(chat.render(GenerationParams.messages(body)));
            promptField = "messages";
        } else {
            Object pr = GenerationParams.completionPrompt(body);
            prompt = pr instanceof String s ? tokens.encodePrompt(s) : checkIds((long[]) pr);
            promptField = "prompt";
        }
        int ctx = engine.contextLength();
        int maxTokens = p.maxTokens() != null ? p.maxTokens() : isChat ? ctx - prompt.length : 16;
        if (prompt.length + Math.max(maxTokens, 1) > ctx) {
            throw new ServeException(400, "invalid_request_error", "context_length_exceeded", promptField,
                    "This model's maximum context length is " + ctx + " tokens. However, you requested "
                            + (prompt.length + Math.max(maxTokens, 1)) + " tokens (" + prompt.length + " in the "
                            + promptField + ", " + Math.max(maxTokens, 1) + " in the completion). Please reduce the "
                            + "length of the " + promptField + " or completion.");
        }
        ServedModels.Selection sel = engine.models().acquire(p.model());
        Collector col = new Collector(tokens, prompt, p.stop());
        GenerationRequest gr;
        try {
            Set<Long> stops = tokens.eosId() >= 0 ? Set.of((long) tokens.eosId()) : Set.of();
            gr = new GenerationRequest(sel, prompt, maxTokens, p.temperature(), p.topP(), p.seed(), stops, col,
                    settings.timeoutMillis());
            engine.submit(gr);
        } catch (RuntimeException e) {
            engine.models().release(sel);
            throw e;
        }
        req.addFailureListener(t -> gr.cancel());
        String id = (isChat ? "chatcmpl-" : "cmpl-") + UUID.randomUUID().toString().replace("-", "");
        return p.stream() ? stream(res, cb, gr, col, p, id, isChat) : complete(res, cb, gr, col, p, id, isChat);
    }

    private long[] checkIds(long[] ids) {
        for (long t : ids) {
            if (t < 0 || t >= tokens.vocabSize()) {
                throw ServeException.invalid("prompt", "token id " + t + " is outside the vocabulary [0, "
                        + tokens.vocabSize() + ")");
            }
        }
        return ids;
    }

    /** Waits for the whole answer, then writes one JSON response. */
    private int complete(Response res, Callback cb, GenerationRequest gr, Collector col, GenerationParams p,
                         String id, boolean isChat) {
        StringBuilder text = new StringBuilder();
        try {
            while (true) {
                Collector.Event e = col.next(settings.timeoutMillis() + 10_000);
                if (e == null) {
                    gr.cancel();
                    throw timeout();
                }
                if (e instanceof Collector.Piece piece) {
                    text.append(piece.text());
                } else if (e instanceof Collector.Failed f) {
                    throw f.error();
                } else if (e instanceof Collector.Done d) {
                    if (d.reason() == FinishReason.TIMEOUT) {
                        throw timeout();
                    }
                    if (d.reason() == FinishReason.CANCELLED) {
                        throw new ServeException(499, "invalid_request_error", "cancelled", null,
                                "the request was cancelled");
                    }
                    ObjectNode out = envelope(id, isChat ? "chat.completion" : "text_completion", p.model());
                    ObjectNode choice = out.putArray("choices").addObject().put("index", 0);
                    if (isChat) {
                        choice.putObject("message").put("role", "assistant").put("content", text.toString());
                    } else {
                        choice.put("text", text.toString());
                    }
                    choice.putNull("logprobs");
                    choice.put("finish_reason", d.reason().openAi());
                    out.set("usage", usage(d));
                    return writeJson(res, cb, 200, out);
                }
            }
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            gr.cancel();
            throw new ServeException(503, "server_error", "shutting_down", null, "the server is shutting down");
        }
    }

    /**
     * Server-sent events in OpenAI's chunk format, ending with {@code data: [DONE]}. A failed write means the
     * client went away: the request is cancelled and its row leaves the batch before the next decode step.
     */
    private int stream(Response res, Callback cb, GenerationRequest gr, Collector col, GenerationParams p,
                       String id, boolean isChat) {
        res.setStatus(200);
        res.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/event-stream; charset=utf-8");
        res.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-cache");
        String object = isChat ? "chat.completion.chunk" : "text_completion";
        try (OutputStream os = Content.Sink.asOutputStream(res)) {
            if (isChat) {
                ObjectNode first = chunk(id, object, p.model(), isChat);
                ((ObjectNode) first.get("choices").get(0)).putObject("delta").put("role", "assistant")
                        .put("content", "");
                event(os, first);
            }
            while (true) {
                Collector.Event e = col.next(settings.timeoutMillis() + 10_000);
                if (e == null) {
                    gr.cancel();
                    event(os, errorBody(timeout()));
                    break;
                }
                if (e instanceof Collector.Piece piece) {
                    ObjectNode c = chunk(id, object, p.model(), isChat);
                    ObjectNode choice = (ObjectNode) c.get("choices").get(0);
                    if (isChat) {
                        choice.putObject("delta").put("content", piece.text());
                    } else {
                        choice.put("text", piece.text());
                    }
                    event(os, c);
                } else if (e instanceof Collector.Failed f) {
                    event(os, errorBody(f.error()));
                    break;
                } else if (e instanceof Collector.Done d) {
                    if (d.reason() == FinishReason.TIMEOUT) {
                        event(os, errorBody(timeout()));
                        break;
                    }
                    ObjectNode c = chunk(id, object, p.model(), isChat);
                    ObjectNode choice = (ObjectNode) c.get("choices").get(0);
                    if (isChat) {
                        choice.putObject("delta");
                    } else {
                        choice.put("text", "");
                    }
                    choice.put("finish_reason", d.reason().openAi());
                    event(os, c);
                    if (p.includeUsage()) {
                        ObjectNode u = envelope(id, object, p.model());
                        u.putArray("choices");
                        u.set("usage", usage(d));
                        event(os, u);
                    }
                    break;
                }
            }
            os.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
            os.flush();
        } catch (IOException e) {
            gr.cancel();
            cb.failed(e);
            return 499;
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            gr.cancel();
            cb.failed(ie);
            return 503;
        }
        cb.succeeded();
        return 200;
    }

    private static void event(OutputStream os, JsonNode data) throws IOException {
        os.write(("data: " + JSON.writeValueAsString(data) + "\n\n").getBytes(StandardCharsets.UTF_8));
        os.flush();
    }

    private ObjectNode envelope(String id, String object, String model) {
        return JSON.createObjectNode().put("id", id).put("object", object)
                .put("created", System.currentTimeMillis() / 1000).put("model", model);
    }

    private ObjectNode chunk(String id, String object, String model, boolean isChat) {
        ObjectNode c = envelope(id, object, model);
        ObjectNode choice = c.putArray("choices").addObject().put("index", 0);
        if (!isChat) {
            choice.putNull("logprobs");
        }
        choice.putNull("finish_reason");
        return c;
    }

    private static ObjectNode usage(Collector.Done d) {
        return JSON.createObjectNode().put("prompt_tokens", d.promptTokens())
                .put("completion_tokens", d.completionTokens())
                .put("total_tokens", d.promptTokens() + d.completionTokens());
    }

    private ServeException timeout() {
        return new ServeException(504, "timeout_error", "request_timeout", null, "the request did not finish "
                + "within the server's per-request timeout of " + settings.timeoutMillis() + " ms");
    }

    // ------------------------------------------------------------------------------------------ adapters, models

    private int loadAdapter(JsonNode body, Response res, Callback cb) {
        if (!body.isObject()) {
            throw ServeException.invalid(null, "the request body must be a JSON object");
        }
        String name = body.path("name").isTextual() ? body.path("name").asText() : null;
        JsonNode combine = body.path("combine");
        List<ServedModels.Info> loaded;
        if (combine.isObject()) {
            List<String> names = new ArrayList<>();
            combine.path("adapters").forEach(n -> names.add(n.asText()));
            List<Double> weights = new ArrayList<>();
            JsonNode w = combine.path("weights");
            if (w.isMissingNode()) {
                names.forEach(n -> weights.add(1.0));
            } else {
                w.forEach(x -> weights.add(x.asDouble()));
            }
            Map<String, Object> options = new LinkedHashMap<>();
            combine.path("options").fields().forEachRemaining(e -> options.put(e.getKey(),
                    JSON.convertValue(e.getValue(), Object.class)));
            loaded = List.of(adapters.combine(name, names, weights, combine.path("type").asText("cat"),
                    combine.path("merger").asText("weighted"), options));
        } else {
            loaded = adapters.load(name, adapters.resolveAllowed(body.path("path").isTextual()
                    ? body.path("path").asText() : null));
        }
        ObjectNode out = JSON.createObjectNode().put("object", "list");
        ArrayNode data = out.putArray("data");
        loaded.forEach(i -> data.add(modelObject(i)));
        return writeJson(res, cb, 201, out);
    }

    private ObjectNode modelObject(ServedModels.Info i) {
        ObjectNode m = JSON.createObjectNode().put("id", i.id()).put("object", "model").put("created", created)
                .put("owned_by", "peft4j").put("kind", i.kind());
        if (i.method() != null) {
            m.put("method", i.method());
        }
        m.put("source", i.source());
        m.put("mixed_batch", i.mixedBatch());
        return m;
    }

    private ObjectNode health() {
        ObjectNode h = JSON.createObjectNode().put("status", "ok").put("base", engine.models().baseId())
                .put("models", engine.models().list().size()).put("queued", engine.queued())
                .put("active_rows", engine.activeRows()).put("context_length", engine.contextLength());
        h.put("chat_template", chat == null ? null : chat.source());
        return h;
    }

    private static ObjectNode errorBody(ServeException e) {
        ObjectNode err = JSON.createObjectNode();
        ObjectNode o = err.putObject("error").put("message", e.getMessage()).put("type", e.type());
        o.put("param", e.param());
        o.put("code", e.code());
        return err;
    }

    private static int writeJson(Response res, Callback cb, int status, JsonNode body) {
        res.setStatus(status);
        res.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
        try {
            Content.Sink.write(res, true, JSON.writeValueAsString(body), cb);
        } catch (JsonProcessingException e) {
            cb.failed(e);
        }
        return status;
    }
}
