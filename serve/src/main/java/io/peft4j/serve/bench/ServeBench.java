package io.peft4j.serve.bench;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peft4j.api.Adapter;
import io.peft4j.api.AdapterConfig;
import io.peft4j.bench.BenchShape;
import io.peft4j.core.cli.CliExtension;
import io.peft4j.core.cli.PluginOptions;
import io.peft4j.core.model.LlamaModel;
import io.peft4j.core.peft.AdapterConfigCodec;
import io.peft4j.core.peft.LlamaAdapterHost;
import io.peft4j.core.peft.PeftModel;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.serve.ServeMetrics;
import io.peft4j.serve.engine.BatchEngine;
import io.peft4j.serve.engine.FinishReason;
import io.peft4j.serve.engine.GenerationRequest;
import io.peft4j.serve.engine.ServeException;
import io.peft4j.serve.engine.ServedModels;
import io.peft4j.serve.engine.TokenSink;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code peft4j serve-bench}: aggregate decode throughput of the serving engine on a random-weight bench shape with
 * LoRA adapters, as concurrent clients see it. Three cases, each {@code --requests} completions of
 * {@code --max-tokens} tokens (no stop token) from random prompts of {@code --prompt-tokens}:
 * {@code multi} (N clients spread over the adapters, one mixed batch), {@code base} (N clients on the base model)
 * and {@code sequential} (one client at a time over the adapters). Prints one JSON line per case and a summary with
 * the ratios multi/base (target >= 0.8) and multi/sequential (target >= 3). Clients submit to the engine the HTTP
 * server uses, without HTTP: the bench shapes have no tokenizer, and HTTP costs no model time.
 */
@Command(name = "serve-bench", description = "Benchmark continuous mixed-adapter batching of peft4j serve.")
public final class ServeBench implements Runnable, CliExtension {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Mixin
    PluginOptions plugins = new PluginOptions();
    @Option(names = "--size", defaultValue = "small", description = "tiny | small | medium (default: ${DEFAULT-VALUE}).")
    String size;
    @Option(names = "--clients", defaultValue = "8") int clients;
    @Option(names = "--adapters", defaultValue = "4") int adapters;
    @Option(names = "--requests", defaultValue = "32", description = "Requests per case (default: ${DEFAULT-VALUE}).")
    int requests;
    @Option(names = "--prompt-tokens", defaultValue = "32") int promptTokens;
    @Option(names = "--max-tokens", defaultValue = "64") int maxTokens;
    @Option(names = "--rank", defaultValue = "8") int rank;
    @Option(names = "--repeats", defaultValue = "1", description = "Runs of each case; the best is reported.")
    int repeats;
    @Option(names = "--seed", defaultValue = "42") long seed;
    @Option(names = "--stacked", defaultValue = "true", negatable = true, fallbackValue = "true",
            description = "Run the LoRA rows through the stacked low-rank path (default); --no-stacked: one pass "
                    + "per adapter on its rows (the general mixed-batch path).")
    boolean stacked;

    @Override
    public void run() {
        BenchShape shape = BenchShape.parse(size);
        try (PluginRuntime rt = plugins.start();
             NDManager root = NDManager.newBaseManager();
             LlamaModel model = LlamaModel.random(shape.config(), root, seed, 0.02)) {
            PeftModel peft = new PeftModel(new LlamaAdapterHost(model, null), rt.extensions()::initializerFor);
            Adapter lora = rt.extensions().requireAdapter("lora");
            ServedModels served = new ServedModels("bench-" + shape.id());
            List<String> names = new ArrayList<>();
            for (int i = 0; i < adapters; i++) {
                String name = "a" + i;
                // init_lora_weights false: both factors random, so every adapter changes the output.
                AdapterConfig cfg = AdapterConfigCodec.parseStrict(lora, Map.of("r", rank, "lora_alpha", 2 * rank,
                        "target_modules", List.of("q_proj", "v_proj"), "init_lora_weights", false), "bench");
                peft.addAdapter(name, lora, cfg, seed + i);
                names.add(name);
            }
            try (BatchEngine engine = new BatchEngine(model, peft, served, new ServeMetrics(), clients,
                    Math.max(64, requests))) {
                for (String n : names) {
                    engine.onEngineThread(() -> {
                        engine.register(new ServedModels.Info(n, "adapter", "lora", "random", true, stacked));
                        return null;
                    });
                }
                int vocab = shape.config().vocabSize();
                // Warm-up: the first passes allocate and pick kernels.
                runCase(engine, "warmup", names, Math.min(clients, 4), Math.min(requests, 8), vocab);
                Map<String, Map<String, Object>> best = new LinkedHashMap<>();
                for (int r = 0; r < repeats; r++) {
                    keepBest(best, runCase(engine, "multi", names, clients, requests, vocab));
                    keepBest(best, runCase(engine, "base", List.of(ServedModels.BASE), clients, requests, vocab));
                    keepBest(best, runCase(engine, "sequential", names, 1, Math.max(4, requests / 4), vocab));
                }
                for (Map<String, Object> rec : best.values()) {
                    System.out.println(JSON.writeValueAsString(rec));
                }
                double multi = (double) best.get("multi").get("decode_tokens_per_s");
                double base = (double) best.get("base").get("decode_tokens_per_s");
                double seq = (double) best.get("sequential").get("decode_tokens_per_s");
                Map<String, Object> summary = new LinkedHashMap<>();
                summary.put("record", "serve_bench_summary");
                summary.put("size", shape.id());
                summary.put("clients", clients);
                summary.put("adapters", adapters);
                summary.put("multi_over_base", round(multi / base));
                summary.put("multi_over_sequential", round(multi / seq));
                summary.put("target_multi_over_base", 0.8);
                summary.put("target_multi_over_sequential", 3.0);
                summary.put("meets_targets", multi / base >= 0.8 && multi / seq >= 3.0);
                System.out.println(JSON.writeValueAsString(summary));
            }
        } catch (Exception e) {
            throw e instanceof RuntimeException re ? re : new IllegalStateException(e);
        }
    }

    private static void keepBest(Map<String, Map<String, Object>> best, Map<String, Object> rec) {
        String k = (String) rec.get("case");
        if (!best.containsKey(k) || (double) rec.get("decode_tokens_per_s")
                > (double) best.get(k).get("decode_tokens_per_s")) {
            best.put(k, rec);
        }
    }

    /** {@code total} requests from {@code nClients} closed-loop clients; client i uses model i mod models. */
    private Map<String, Object> runCase(BatchEngine engine, String name, List<String> models, int nClients,
                                        int total, int vocab) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(nClients);
        List<Double> latencies = java.util.Collections.synchronizedList(new ArrayList<>());
        java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicLong tokens = new java.util.concurrent.atomic.AtomicLong();
        long t0 = System.nanoTime();
        List<Future<?>> fs = new ArrayList<>();
        for (int c = 0; c < nClients; c++) {
            String model = models.get(c % models.size());
            Random rng = new Random(seed + c);
            fs.add(pool.submit(() -> {
                while (next.getAndIncrement() < total) {
                    long[] prompt = new long[promptTokens];
                    for (int j = 0; j < prompt.length; j++) {
                        prompt[j] = rng.nextInt(vocab);
                    }
                    long s = System.nanoTime();
                    tokens.addAndGet(complete(engine, model, prompt));
                    latencies.add((System.nanoTime() - s) / 1e9);
                }
                return null;
            }));
        }
        for (Future<?> f : fs) {
            f.get(30, TimeUnit.MINUTES);
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        pool.shutdown();
        List<Double> sorted = new ArrayList<>(latencies);
        java.util.Collections.sort(sorted);
        Map<String, Object> rec = new LinkedHashMap<>();
        rec.put("record", "serve_bench");
        rec.put("case", name);
        rec.put("size", size);
        rec.put("clients", nClients);
        rec.put("models", models);
        rec.put("requests", total);
        rec.put("prompt_tokens", promptTokens);
        rec.put("max_tokens", maxTokens);
        rec.put("generated_tokens", tokens.get());
        rec.put("seconds", round(secs));
        rec.put("decode_tokens_per_s", round(tokens.get() / secs));
        rec.put("latency_p50_s", round(sorted.get(sorted.size() / 2)));
        rec.put("latency_p99_s", round(sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(sorted.size() * 0.99) - 1))));
        rec.put("stacked_lora", stacked);
        rec.put("load_avg_1m", loadAverage());
        return rec;
    }

    /** One request through the engine; returns the tokens generated. */
    private int complete(BatchEngine engine, String model, long[] prompt) throws Exception {
        CompletableFuture<Integer> done = new CompletableFuture<>();
        TokenSink sink = new TokenSink() {
            @Override
            public boolean onToken(long tokenId) {
                return true;
            }

            @Override
            public void onFinish(FinishReason reason, int promptLen, int completion) {
                done.complete(completion);
            }

            @Override
            public void onError(ServeException error) {
                done.completeExceptionally(error);
            }
        };
        ServedModels.Selection sel = engine.models().acquire(model);
        engine.submit(new GenerationRequest(sel, prompt, maxTokens, 0, 1, 0, Set.of(), sink, 600_000));
        return done.get(10, TimeUnit.MINUTES);
    }

    private static double round(double x) {
        return Math.round(x * 1000) / 1000.0;
    }

    private static double loadAverage() {
        try {
            return Double.parseDouble(java.nio.file.Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
        } catch (Exception e) {
            return -1;
        }
    }
}
