package io.peft4j.it.serve;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.exception.ModelNotFoundException;
import dev.langchain4j.model.StreamingResponseHandler;
import dev.langchain4j.model.openai.OpenAiLanguageModel;
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
        fx = new ServeFixture(PeftServer.Options.loopback(0).withAdapterRoot(root), null);
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

    /** The value of one sample line of /metrics (0 when absent). */
    static double metric(String sample) throws Exception {
        for (String line : fx.call("GET", "/metrics", null, null).body().split("\n")) {
            if (line.startsWith(sample + " ")) {
                return Double.parseDouble(line.substring(sample.length() + 1).trim());
            }
        }
        return 0;
    }
}
