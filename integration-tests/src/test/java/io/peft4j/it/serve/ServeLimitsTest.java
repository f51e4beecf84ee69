package io.peft4j.it.serve;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.langchain4j.exception.AuthenticationException;
import dev.langchain4j.exception.RateLimitException;
import dev.langchain4j.model.openai.OpenAiLanguageModel;
import io.peft4j.api.ConfigException;
import io.peft4j.serve.PeftServer;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

/**
 * Back-pressure, per-request timeouts and the API key of {@code peft4j serve} (base model only): a full queue
 * answers 429, a request that waits past its timeout ends with 504, and with a key every endpoint but /health
 * wants {@code Authorization: Bearer KEY}; binding off loopback without a key is refused.
 */
class ServeLimitsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static OpenAiLanguageModel client(ServeFixture fx, String key) {
        return OpenAiLanguageModel.builder().baseUrl(fx.baseUrl()).apiKey(key).modelName("base").temperature(0.0)
                .maxRetries(0).timeout(Duration.ofSeconds(60)).build();
    }

    @Test
    void fullQueueGets429AndWaitingPastTheTimeoutGets504() throws Exception {
        try (ServeFixture fx = new ServeFixture(PeftServer.Options.loopback(0).withLimits(1, 1, 1500), null)) {
            CountDownLatch resume = fx.pauseEngine();
            // Fills the queue of one; the engine is paused, so it stays there.
            Thread waiting = new Thread(() -> {
                try {
                    fx.streamAndHangUp("{\"model\": \"base\", \"prompt\": \"Once\", \"max_tokens\": 8, "
                            + "\"stream\": true}", false);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            waiting.start();
            long until = System.nanoTime() + 10_000_000_000L;
            while (fx.server.engine().queued() == 0 && System.nanoTime() < until) {
                Thread.sleep(10);
            }
            assertThat(fx.server.engine().queued()).isEqualTo(1);
            assertThatThrownBy(() -> client(fx, "x").generate("Once upon a time"))
                    .isInstanceOf(RateLimitException.class).hasMessageContaining("queue_full");
            HttpResponse<String> busy = fx.post("/v1/completions", "{\"model\": \"base\", \"prompt\": \"x\"}");
            assertThat(busy.statusCode()).isEqualTo(429);
            assertThat(JSON.readTree(busy.body()).path("error").path("type").asText()).isEqualTo("rate_limit_error");

            // Let the queued request outlive its 1.5 s; a new one then also waits behind the paused engine.
            Thread.sleep(1600);
            resume.countDown();
            waiting.join();
            until = System.nanoTime() + 10_000_000_000L;
            while (fx.metric("peft4j_generations_finished_total{reason=\"timeout\"}") < 1
                    && System.nanoTime() < until) {
                Thread.sleep(20);
            }
            assertThat(fx.metric("peft4j_generations_finished_total{reason=\"timeout\"}")).isEqualTo(1);

            CountDownLatch again = fx.pauseEngine();
            Thread release = new Thread(() -> {
                try {
                    Thread.sleep(1700);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                again.countDown();
            });
            release.start();
            HttpResponse<String> late = fx.post("/v1/completions", "{\"model\": \"base\", \"prompt\": \"x\"}");
            release.join();
            assertThat(late.statusCode()).as(late.body()).isEqualTo(504);
            JsonNode e = JSON.readTree(late.body()).path("error");
            assertThat(e.path("code").asText()).isEqualTo("request_timeout");
            assertThat(fx.metric("peft4j_queue_depth")).isZero();
        }
    }

    @Test
    void apiKeyIsRequiredWhenSetAndOffLoopback() throws Exception {
        try (ServeFixture fx = new ServeFixture(PeftServer.Options.loopback(0).withApiKey("s3cret"), null)) {
            assertThat(fx.call("GET", "/health", null, null).statusCode()).isEqualTo(200);
            HttpResponse<String> none = fx.call("GET", "/v1/models", null, null);
            assertThat(none.statusCode()).isEqualTo(401);
            assertThat(JSON.readTree(none.body()).path("error").path("code").asText()).isEqualTo("invalid_api_key");
            assertThat(fx.call("GET", "/metrics", null, "wrong").statusCode()).isEqualTo(401);
            assertThat(fx.call("GET", "/v1/models", null, "s3cret").statusCode()).isEqualTo(200);
            assertThatThrownBy(() -> client(fx, "wrong").generate("Once"))
                    .isInstanceOf(AuthenticationException.class);
            assertThat(client(fx, "s3cret").generate("Once").content()).isNotEmpty();
        }
        assertThatThrownBy(() -> new PeftServer.Options("0.0.0.0", 0, null, null, 8, 64, 1000))
                .isInstanceOf(ConfigException.class).hasMessageContaining("--api-key")
                .hasMessageContaining("not a loopback address");
    }
}
