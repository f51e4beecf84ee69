package io.peft4j.it.serve;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.exception.ModelNotFoundException;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.StreamingResponseHandler;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiLanguageModel;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import dev.langchain4j.model.openai.OpenAiStreamingLanguageModel;
import dev.langchain4j.model.output.Response;
import io.peft4j.it.support.Cli;
import io.peft4j.serve.PeftServer;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code peft4j serve} on a loopback port with stories260K and two adapters trained for this run, called with
 * LangChain4j's OpenAI client: greedy answers equal {@code peft4j generate}'s for the same adapter and prompt,
 * streamed answers equal unstreamed ones, concurrent requests for different adapters (one mixed batch) return
 * what each gets alone, and bad requests get OpenAI's error object with the right status.
 */
class ServeOpenAiClientTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> PROMPTS = List.of("Once upon a time", "The little dog", "Lily and Ben went");
    private static final List<String> MODELS = List.of("base", "a", "b");
    /** OpenAI's default max_tokens for completions, which LangChain4j's language model leaves to the server. */
    private static final int DEFAULT_MAX_TOKENS = 16;

    @TempDir
    static Path root;
    private static ServeFixture fx;
    /** model -> prompt -> the CLI's greedy continuation (its output minus the prompt). */
    private static final Map<String, Map<String, String>> CLI = new LinkedHashMap<>();

    @BeforeAll
    static void start() throws Exception {
        long t0 = System.nanoTime();
        ServeFixture.trainAdapters(root);
        long t1 = System.nanoTime();
        for (String m : MODELS) {
            // One CLI run per model with every prompt (the generator gives each prompt of a batch what it gets
            // alone: left padding with an attention mask).
            List<String> args = new ArrayList<>(List.of("generate", "--max-new-tokens",
                    String.valueOf(DEFAULT_MAX_TOKENS)));
            if (!m.equals("base")) {
                args.addAll(List.of("--adapter", m + "=" + root.resolve(m)));
            }
            PROMPTS.forEach(p -> args.addAll(List.of("-p", p)));
            Cli.Result r = Cli.run(args.toArray(String[]::new));
            assertThat(r.exitCode()).as(r.err()).isZero();
            String[] parts = r.out().split("---\\R");
            assertThat(parts).hasSize(PROMPTS.size());
            Map<String, String> byPrompt = new LinkedHashMap<>();
            for (int i = 0; i < parts.length; i++) {
                String p = PROMPTS.get(i);
                String line = parts[i].stripTrailing();
                assertThat(line).startsWith(p);
                byPrompt.put(p, line.substring(p.length()));
            }
            CLI.put(m, byPrompt);
        }
        System.err.printf("serve test setup: training %.1f s, CLI %.1f s%n", (t1 - t0) / 1e9,
                (System.nanoTime() - t1) / 1e9);
        // A minimal template for the story model: BOS, then the messages' text.
        Path template = Files.writeString(root.resolve("chat.jinja"), "{{ bos_token }}{% for m in messages %}"
                + "{{ m['content'] }}{% endfor %}");
        fx = new ServeFixture(PeftServer.Options.loopback(0).withAdapterRoot(root), template);
        for (String m : List.of("a", "b")) {
            HttpResponse<String> r = fx.post("/v1/adapters", "{\"name\": \"" + m + "\", \"path\": \"" + m + "\"}");
            assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
        }
    }

    @AfterAll
    static void stop() {
        if (fx != null) {
            fx.close();
        }
    }

    private static OpenAiLanguageModel completions(String model) {
        return OpenAiLanguageModel.builder().baseUrl(fx.baseUrl()).apiKey("unused").modelName(model)
                .temperature(0.0).maxRetries(0).timeout(Duration.ofSeconds(60)).build();
    }

    private static OpenAiStreamingLanguageModel streamingCompletions(String model) {
        return OpenAiStreamingLanguageModel.builder().baseUrl(fx.baseUrl()).apiKey("unused").modelName(model)
                .temperature(0.0).timeout(Duration.ofSeconds(60)).build();
    }

    private static String streamed(String model, String prompt) throws Exception {
        CompletableFuture<String> done = new CompletableFuture<>();
        StringBuilder pieces = new StringBuilder();
        streamingCompletions(model).generate(prompt, new StreamingResponseHandler<>() {
            @Override
            public void onNext(String token) {
                pieces.append(token);
            }

            @Override
            public void onComplete(Response<String> response) {
                done.complete(pieces.toString());
            }

            @Override
            public void onError(Throwable error) {
                done.completeExceptionally(error);
            }
        });
        return done.get(60, TimeUnit.SECONDS);
    }

    @Test
    void greedyAnswersEqualTheCliForEachAdapter() {
        for (String m : MODELS) {
            for (String p : PROMPTS) {
                Response<String> r = completions(m).generate(p);
                assertThat(r.content()).as(m + " / " + p).isEqualTo(CLI.get(m).get(p));
                assertThat(r.tokenUsage().outputTokenCount()).isPositive().isLessThanOrEqualTo(DEFAULT_MAX_TOKENS);
                assertThat(r.tokenUsage().inputTokenCount()).isPositive();
            }
        }
        // The adapters really change the answers, so the comparisons above tell the models apart.
        assertThat(CLI.get("a")).isNotEqualTo(CLI.get("base"));
        assertThat(CLI.get("b")).isNotEqualTo(CLI.get("base"));
        assertThat(CLI.get("a")).isNotEqualTo(CLI.get("b"));
    }

    @Test
    void streamedAnswersEqualUnstreamedOnes() throws Exception {
        for (String m : MODELS) {
            String p = PROMPTS.get(0);
            assertThat(streamed(m, p)).as(m).isEqualTo(completions(m).generate(p).content())
                    .isEqualTo(CLI.get(m).get(p));
        }
    }

    @Test
    void concurrentRequestsForDifferentAdaptersGetWhatEachGetsAlone() throws Exception {
        double stepsBefore = metric("peft4j_batch_size_count");
        double singleBefore = metric("peft4j_batch_size_bucket{le=\"1.0\"}");
        ExecutorService pool = Executors.newFixedThreadPool(9);
        try {
            for (int round = 0; round < 2; round++) {
                Map<String, Future<String>> answers = new LinkedHashMap<>();
                for (String m : MODELS) {
                    for (String p : PROMPTS) {
                        boolean stream = round == 1 && p.equals(PROMPTS.get(1));
                        answers.put(m + "|" + p, pool.submit(() -> stream ? streamed(m, p)
                                : completions(m).generate(p).content()));
                    }
                }
                for (Map.Entry<String, Future<String>> e : answers.entrySet()) {
                    String[] k = e.getKey().split("\\|");
                    assertThat(e.getValue().get(60, TimeUnit.SECONDS)).as(e.getKey())
                            .isEqualTo(CLI.get(k[0]).get(k[1]));
                }
            }
        } finally {
            pool.shutdownNow();
        }
        double steps = metric("peft4j_batch_size_count") - stepsBefore;
        double single = metric("peft4j_batch_size_bucket{le=\"1.0\"}") - singleBefore;
        assertThat(steps - single).as("decode steps that ran several requests in one forward pass").isPositive();
    }

    private static OpenAiChatModel chat(String model) {
        return OpenAiChatModel.builder().baseUrl(fx.baseUrl()).apiKey("unused").modelName(model).temperature(0.0)
                .maxTokens(DEFAULT_MAX_TOKENS).maxRetries(0).timeout(Duration.ofSeconds(60)).build();
    }

    @Test
    void chatAnswersEqualTheCliAndStreamedChatEqualsUnstreamed() throws Exception {
        // The rendered prompt "<s>" + text tokenizes to what the CLI feeds for the text (BOS + its ids).
        for (String p : PROMPTS) {
            assertThat(fx.session.tokenizer().encode("<s>" + p, false))
                    .containsExactly(fx.session.tokenizer().encode(p, true));
        }
        for (String m : MODELS) {
            String p = PROMPTS.get(2);
            ChatResponse r = chat(m).chat(UserMessage.from(p));
            assertThat(r.aiMessage().text()).as(m).isEqualTo(CLI.get(m).get(p));
            assertThat(r.tokenUsage().outputTokenCount()).isPositive();
            assertThat(r.finishReason()).isNotNull();

            CompletableFuture<ChatResponse> done = new CompletableFuture<>();
            StringBuilder pieces = new StringBuilder();
            OpenAiStreamingChatModel.builder().baseUrl(fx.baseUrl()).apiKey("unused").modelName(m).temperature(0.0)
                    .maxTokens(DEFAULT_MAX_TOKENS).timeout(Duration.ofSeconds(60)).build()
                    .chat(p, new StreamingChatResponseHandler() {
                        @Override
                        public void onPartialResponse(String partial) {
                            pieces.append(partial);
                        }

                        @Override
                        public void onCompleteResponse(ChatResponse complete) {
                            done.complete(complete);
                        }

                        @Override
                        public void onError(Throwable error) {
                            done.completeExceptionally(error);
                        }
                    });
            ChatResponse streamed = done.get(60, TimeUnit.SECONDS);
            assertThat(pieces.toString()).as(m + " streamed").isEqualTo(r.aiMessage().text());
            assertThat(streamed.aiMessage().text()).isEqualTo(r.aiMessage().text());
            assertThat(streamed.tokenUsage().outputTokenCount()).isEqualTo(r.tokenUsage().outputTokenCount());
        }
        assertError(fx.post("/v1/chat/completions", "{\"model\": \"a\", \"messages\": []}"), 400, null,
                "messages", "non-empty array");
        assertError(fx.post("/v1/chat/completions", "{\"model\": \"a\", \"messages\": [{\"role\": \"user\", "
                + "\"content\": [{\"type\": \"image_url\"}]}]}"), 400, null, "messages[0].content", "text parts");
    }

    @Test
    void adaptersLoadAndUnloadWhileRequestsRunWithoutDisturbingThem() throws Exception {
        String body = "{\"model\": \"b2\", \"prompt\": \"Once upon a time\", \"max_tokens\": 60, "
                + "\"temperature\": 0, \"stream\": true}";
        HttpResponse<String> load = fx.post("/v1/adapters", "{\"name\": \"b2\", \"path\": \"b\"}");
        assertThat(load.statusCode()).as(load.body()).isEqualTo(201);
        String expected = JSON.readTree(fx.post("/v1/completions", body.replace("true", "false")).body())
                .path("choices").get(0).path("text").asText();
        assertThat(expected).isNotEmpty();

        java.util.concurrent.CountDownLatch resume = fx.pauseEngine();
        CompletableFuture<HttpResponse<String>> running = fx.http.sendAsync(java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create(fx.baseUrl() + "/completions"))
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        long until = System.nanoTime() + 10_000_000_000L;
        while (fx.server.engine().queued() == 0 && System.nanoTime() < until) {
            Thread.sleep(10);
        }
        assertThat(fx.server.engine().queued()).as("the request waits for the paused engine").isEqualTo(1);
        // Delete b2 while its request waits, and load another adapter while it runs.
        assertThat(fx.call("DELETE", "/v1/adapters/b2", null, null).statusCode()).isEqualTo(200);
        assertThat(fx.call("GET", "/v1/models", null, null).body()).doesNotContain("\"b2\"");
        assertError(fx.post("/v1/completions", body), 404, "model_not_found", "model", "b2");
        CompletableFuture<HttpResponse<String>> loading = CompletableFuture.supplyAsync(() -> {
            try {
                return fx.post("/v1/adapters", "{\"name\": \"c\", \"path\": \"a\"}");
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        resume.countDown();
        HttpResponse<String> streamed = running.get(60, TimeUnit.SECONDS);
        assertThat(loading.get(60, TimeUnit.SECONDS).statusCode()).isEqualTo(201);
        assertThat(streamed.statusCode()).isEqualTo(200);
        StringBuilder text = new StringBuilder();
        for (String line : streamed.body().split("\n")) {
            if (line.startsWith("data: {")) {
                text.append(JSON.readTree(line.substring(6)).path("choices").get(0).path("text").asText());
            }
        }
        assertThat(streamed.body().strip()).endsWith("data: [DONE]");
        assertThat(text.toString()).isEqualTo(expected);
        until = System.nanoTime() + 10_000_000_000L;
        boolean present = true;
        while (present && System.nanoTime() < until) {
            present = fx.server.engine().onEngineThread(() -> fx.session.peft().adapters().containsKey("b2"));
            Thread.sleep(10);
        }
        assertThat(present).as("b2's tensors are freed once its last request ended").isFalse();
        assertThat(completions("c").generate(PROMPTS.get(0)).content()).isEqualTo(CLI.get("a").get(PROMPTS.get(0)));
        assertThat(fx.call("DELETE", "/v1/adapters/c", null, null).statusCode()).isEqualTo(200);
    }

    @Test
    void aClientThatGoesAwayIsCancelled() throws Exception {
        double before = metric("peft4j_generations_finished_total{reason=\"cancelled\"}");
        fx.streamAndHangUp("{\"model\": \"base\", \"prompt\": \"Once upon a time\", \"max_tokens\": 480, "
                + "\"temperature\": 0, \"stream\": true}", true);
        long until = System.nanoTime() + 30_000_000_000L;
        while (metric("peft4j_generations_finished_total{reason=\"cancelled\"}") == before
                && System.nanoTime() < until) {
            Thread.sleep(20);
        }
        assertThat(metric("peft4j_generations_finished_total{reason=\"cancelled\"}")).isEqualTo(before + 1);
    }

    /**
     * A bounded load test on loopback: 48 completions (24 tokens, base/a/b round robin) from 8 concurrent clients,
     * at most 120 s; prints throughput and p50/p99 latency as JSON (numbers are reported, not asserted).
     */
    @Test
    void boundedLoadTestReportsThroughputAndLatency() throws Exception {
        int requests = 48;
        int clients = 8;
        long deadline = System.nanoTime() + 120_000_000_000L;
        java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();
        List<Double> latencies = java.util.Collections.synchronizedList(new ArrayList<>());
        java.util.concurrent.atomic.AtomicLong tokens = new java.util.concurrent.atomic.AtomicLong();
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        long t0 = System.nanoTime();
        List<Future<?>> fs = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            fs.add(pool.submit(() -> {
                int i;
                while ((i = next.getAndIncrement()) < requests && System.nanoTime() < deadline) {
                    String body = "{\"model\": \"" + MODELS.get(i % 3) + "\", \"prompt\": \"" + PROMPTS.get(i % 2)
                            + "\", \"max_tokens\": 24, \"temperature\": 0.8, \"seed\": " + i + "}";
                    long s = System.nanoTime();
                    HttpResponse<String> r = fx.post("/v1/completions", body);
                    latencies.add((System.nanoTime() - s) / 1e9);
                    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
                    tokens.addAndGet(JSON.readTree(r.body()).path("usage").path("completion_tokens").asLong());
                }
                return null;
            }));
        }
        for (Future<?> f : fs) {
            f.get(150, TimeUnit.SECONDS);
        }
        pool.shutdown();
        double secs = (System.nanoTime() - t0) / 1e9;
        List<Double> sorted = new ArrayList<>(latencies);
        java.util.Collections.sort(sorted);
        assertThat(sorted).isNotEmpty();
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("record", "serve_load_test");
        report.put("requests", sorted.size());
        report.put("clients", clients);
        report.put("seconds", secs);
        report.put("requests_per_s", sorted.size() / secs);
        report.put("generated_tokens_per_s", tokens.get() / secs);
        report.put("latency_p50_s", sorted.get(sorted.size() / 2));
        report.put("latency_p99_s", sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(sorted.size() * 0.99) - 1)));
        System.out.println(JSON.writeValueAsString(report));
    }

    @Test
    void badRequestsGetOpenAiErrors() throws Exception {
        assertThatThrownBy(() -> completions("nope").generate("Once"))
                .isInstanceOf(ModelNotFoundException.class).hasMessageContaining("nope");
        assertError(fx.post("/v1/completions", "{\"model\": \"nope\", \"prompt\": \"x\"}"), 404, "model_not_found",
                "model", "does not exist");
        assertError(fx.post("/v1/completions", "{\"model\": \"a+zz\", \"prompt\": \"x\"}"), 404, "model_not_found",
                "model", "unknown adapter \"zz\"");
        assertError(fx.post("/v1/completions", "{\"model\": \"base\", \"prompt\": "), 400, null, null,
                "could not parse the JSON body");
        assertError(fx.post("/v1/completions", "{\"model\": \"base\", \"prompt\": \"x\", \"max_tokens\": 600}"),
                400, "context_length_exceeded", "prompt", "maximum context length is 512 tokens");
        assertError(fx.post("/v1/completions", "{\"model\": \"base\", \"prompt\": \"x\", \"n\": 2}"), 400, null,
                "n", "only n = 1");
        assertError(fx.post("/v1/completions", "{\"model\": \"base\", \"prompt\": \"x\", \"temperature\": 3}"), 400,
                null, "temperature", "between 0.0 and 2.0");
        assertError(fx.post("/v1/completions", "{\"prompt\": \"x\"}"), 400, null, "model", "model parameter");
        assertError(fx.call("GET", "/v1/nothing", null, null), 404, "unknown_url", null, "Unknown request URL");
        assertThatThrownBy(() -> OpenAiLanguageModel.builder().baseUrl(fx.baseUrl()).apiKey("x").modelName("base")
                .maxRetries(0).build().generate("x".repeat(3000)))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("context_length_exceeded");
    }

    @Test
    void modelsListsBaseAndAdaptersAndCombinations() throws Exception {
        HttpResponse<String> r = fx.post("/v1/adapters", "{\"name\": \"ab\", \"combine\": {\"adapters\": [\"a\", "
                + "\"b\"], \"type\": \"cat\"}}");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
        JsonNode list = JSON.readTree(fx.call("GET", "/v1/models", null, null).body());
        List<String> ids = new ArrayList<>();
        list.path("data").forEach(m -> ids.add(m.path("id").asText()));
        assertThat(ids).containsExactly("base", "a", "b", "ab");
        // cat of a and b with weights 1 is their sum: the same answer as both active at once ("a+b").
        String p = PROMPTS.get(0);
        String stacked = completions("a+b").generate(p).content();
        assertThat(completions("ab").generate(p).content()).isEqualTo(stacked);
        assertThat(stacked).isNotEqualTo(CLI.get("a").get(p));
        assertThat(fx.call("DELETE", "/v1/adapters/ab", null, null).statusCode()).isEqualTo(200);
    }

    @Test
    void adaptersOutsideTheRootAreRefused() throws Exception {
        Path outside = Files.createTempDirectory("peft4j-outside");
        assertError(fx.post("/v1/adapters", "{\"name\": \"x\", \"path\": \"" + outside + "\"}"), 403,
                "path_not_allowed", "path", "outside the adapter root");
        assertError(fx.post("/v1/adapters", "{\"name\": \"x\", \"path\": \"../" + outside.getFileName() + "\"}"),
                403, "path_not_allowed", "path", "outside the adapter root");
        assertError(fx.post("/v1/adapters", "{\"name\": \"a\", \"path\": \"a\"}"), 409, "model_exists", "name",
                "already served");
        assertError(fx.post("/v1/adapters", "{\"name\": \"q\", \"path\": \"missing\"}"), 404, "adapter_not_found",
                "path", "does not exist");
        assertError(fx.call("DELETE", "/v1/adapters/zz", null, null), 404, "model_not_found", "name", "zz");
        Files.delete(outside);
    }

    private static void assertError(HttpResponse<String> r, int status, String code, String param, String text)
            throws Exception {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
        assertThat(r.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v)
                .startsWith("application/json"));
        JsonNode e = JSON.readTree(r.body()).path("error");
        assertThat(e.path("message").asText()).contains(text);
        assertThat(e.path("type").asText()).isNotEmpty();
        assertThat(e.path("code").isNull() ? null : e.path("code").asText()).isEqualTo(code);
        assertThat(e.path("param").isNull() ? null : e.path("param").asText()).isEqualTo(param);
    }

    static double metric(String sample) throws Exception {
        return fx.metric(sample);
    }
}
