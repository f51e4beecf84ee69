package io.peft4j.it.serve;

import io.peft4j.core.config.RunConfigParser;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.run.RunConfigValidator;
import io.peft4j.core.run.RunPlan;
import io.peft4j.core.run.TuningSession;
import io.peft4j.it.support.Dist;
import io.peft4j.it.support.Runs;
import io.peft4j.serve.ChatFormats;
import io.peft4j.serve.PeftServer;
import io.peft4j.serve.http.ChatFormat;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;

/**
 * stories260K with two LoRA adapters trained for this test run on the bundled demo data (different targets and
 * ranks, a high learning rate so that their greedy continuations differ from the base model's), and a
 * {@code peft4j serve} on a loopback port around a fresh session.
 */
final class ServeFixture implements AutoCloseable {
    /** Trains adapter {@code a} (r 4 on q/v/down) and {@code b} (r 2 on gate/up) under {@code root}. */
    static void trainAdapters(Path root) {
        train(root, "a", "{name: default, method: lora, r: 4, lora_alpha: 8, "
                + "target_modules: [q_proj, v_proj, down_proj]}", 7);
        train(root, "b", "{name: default, method: lora, r: 2, lora_alpha: 8, "
                + "target_modules: [gate_proj, up_proj]}", 8);
    }

    private static void train(Path root, String name, String adapter, int seed) {
        String yaml = """
                model: {path: "bundled:stories260K"}
                adapters:
                  - %s
                optimizer: {lr: 0.05}
                training: {steps: 8, batch_size: 4, max_seq_len: 48, warmup_steps: 1, log_every: 4, seed: %d,
                           progress_bar: false}
                data: {train: "bundled:demo/train.jsonl", eval: "bundled:demo/eval.jsonl"}
                output: {dir: "%s"}
                """.formatted(adapter, seed, root.resolve("run-" + name).toString().replace("\\", "/"));
        try (PluginRuntime rt = PluginRuntime.start(Dist.pluginsDir())) {
            RunPlan plan = RunConfigValidator.validate(RunConfigParser.parse(yaml, true), rt.extensions());
            try (TuningSession s = TuningSession.open(plan, rt.extensions())) {
                s.train();
                io.peft4j.core.peft.AdapterFiles.saveOne(s.peft(), "default", root.resolve(name),
                        "bundled:stories260K");
            }
        }
    }

    final PluginRuntime rt;
    final TuningSession session;
    final PeftServer server;
    final HttpClient http = HttpClient.newHttpClient();

    /** @param chatTemplate a Jinja chat template file (null: none, chat requests are refused) */
    ServeFixture(PeftServer.Options options, Path chatTemplate) {
        rt = PluginRuntime.start(Dist.pluginsDir());
        RunPlan plan = RunConfigValidator.validate(Runs.yaml("[]", 1, options.adapterRoot() == null
                ? Path.of("target/serve-bare") : options.adapterRoot().resolve("bare")), rt.extensions());
        session = TuningSession.open(plan, rt.extensions());
        ChatFormat chat = chatTemplate == null ? null : ChatFormats.forModel(plan.modelDir(), chatTemplate);
        server = PeftServer.start(options, rt.extensions(), session.model(), session.tokenizer(), session.peft(),
                "stories260K", chat);
    }

    String baseUrl() {
        return "http://127.0.0.1:" + server.port() + "/v1";
    }

    /** A raw HTTP call: {status, body}. */
    HttpResponse<String> call(String method, String path, String json, String apiKey) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
                .method(method, json == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(json))
                .header("Content-Type", "application/json");
        if (apiKey != null) {
            b.header("Authorization", "Bearer " + apiKey);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> post(String path, String json) throws Exception {
        return call("POST", path, json, null);
    }

    /**
     * Sends a streaming completion over a plain socket, reads until the first SSE data line (or, with
     * {@code readFirst} false, nothing) and drops the connection, as a client that goes away does.
     */
    void streamAndHangUp(String json, boolean readFirst) throws Exception {
        try (java.net.Socket s = new java.net.Socket("127.0.0.1", server.port())) {
            byte[] body = json.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            java.io.OutputStream o = s.getOutputStream();
            o.write(("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + body.length + "\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
            o.write(body);
            o.flush();
            if (readFirst) {
                java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(
                        s.getInputStream(), java.nio.charset.StandardCharsets.UTF_8));
                String line;
                while ((line = in.readLine()) != null && !line.startsWith("data: ")) {
                    // headers and chunk sizes
                }
            }
        }
    }

    /** Holds the engine between two decode steps until the returned latch is released. */
    java.util.concurrent.CountDownLatch pauseEngine() throws InterruptedException {
        java.util.concurrent.CountDownLatch paused = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch resume = new java.util.concurrent.CountDownLatch(1);
        Thread t = new Thread(() -> server.engine().onEngineThread(() -> {
            paused.countDown();
            resume.await();
            return null;
        }), "test-engine-pause");
        t.setDaemon(true);
        t.start();
        paused.await();
        return resume;
    }

    /** The value of one sample line of /metrics (0 when absent). */
    double metric(String sample) throws Exception {
        for (String line : call("GET", "/metrics", null, null).body().split("\n")) {
            if (line.startsWith(sample + " ")) {
                return Double.parseDouble(line.substring(sample.length() + 1).trim());
            }
        }
        return 0;
    }

    @Override
    public void close() {
        server.close();
        session.close();
        rt.close();
    }
}
