package io.peft4j.serve;

import io.peft4j.api.ConfigException;
import io.peft4j.core.cli.CliExtension;
import io.peft4j.core.cli.PluginOptions;
import io.peft4j.core.config.RunConfigParser;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.run.Bundled;
import io.peft4j.core.run.RunConfigValidator;
import io.peft4j.core.run.RunPlan;
import io.peft4j.core.run.TuningSession;
import io.peft4j.serve.engine.ServedModels;
import io.peft4j.serve.http.ChatFormat;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code peft4j serve}: the OpenAI-compatible server (docs/serving.md). */
@Command(name = "serve", description = "Serve the base model and adapters over an OpenAI-compatible HTTP API "
        + "(/v1/completions, /v1/chat/completions, /v1/models, /v1/adapters, /health, /metrics).")
public final class ServeCommand implements Callable<Integer>, CliExtension {
    @Mixin
    PluginOptions plugins = new PluginOptions();

    @Option(names = "--model", paramLabel = "DIR", defaultValue = Bundled.MODEL,
            description = "Model directory (default: ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--adapter", paramLabel = "NAME=DIR",
            description = "Serve a PEFT adapter directory as model NAME; repeatable.")
    List<String> adapterSpecs = new ArrayList<>();

    @Option(names = "--combine", paramLabel = "NAME=A+B[:TYPE]",
            description = "Serve a new LoRA adapter built from loaded ones (PEFT add_weighted_adapter, weights 1, "
                    + "TYPE default cat = their sum); repeatable.")
    List<String> combineSpecs = new ArrayList<>();

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to bind (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", defaultValue = "8000", description = "Port (default: ${DEFAULT-VALUE}; 0 = any free).")
    int port;

    @Option(names = "--api-key", paramLabel = "KEY", defaultValue = "${env:PEFT4J_API_KEY}",
            description = "Require Authorization: Bearer KEY (default: env PEFT4J_API_KEY; required off loopback).")
    String apiKey;

    @Option(names = "--adapter-root", paramLabel = "DIR",
            description = "Allow POST /v1/adapters to load adapter directories under DIR (default: off).")
    Path adapterRoot;

    @Option(names = "--chat-template", paramLabel = "FILE",
            description = "Jinja chat template for /v1/chat/completions (default: the model's tokenizer_config.json).")
    Path chatTemplate;

    @Option(names = "--max-batch", defaultValue = "8", description = "Requests decoded together at most (default: "
            + "${DEFAULT-VALUE}).")
    int maxBatch;

    @Option(names = "--queue", defaultValue = "64", description = "Requests that may wait; more get HTTP 429 "
            + "(default: ${DEFAULT-VALUE}).")
    int queue;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "120",
            description = "Per-request limit, queueing included (default: ${DEFAULT-VALUE}).")
    long timeoutSeconds;

    @Override
    public Integer call() throws Exception {
        PeftServer.Options o = new PeftServer.Options(host, port, apiKey == null || apiKey.isBlank() ? null : apiKey,
                adapterRoot, maxBatch, queue, timeoutSeconds * 1000);
        var cfg = RunConfigParser.parse("{}", false).withModelPath(model);
        try (PluginRuntime rt = plugins.start()) {
            RunPlan plan = RunConfigValidator.validate(cfg, rt.extensions());
            try (TuningSession s = TuningSession.open(plan, rt.extensions())) {
                ChatFormat chat = ChatFormats.forModel(plan.modelDir(), chatTemplate);
                String baseId = plan.modelDir().getFileName().toString();
                PeftServer server = PeftServer.start(o, rt.extensions(), s.model(), s.tokenizer(), s.peft(), baseId,
                        chat);
                CountDownLatch stopped = new CountDownLatch(1);
                Thread hook = new Thread(() -> {
                    server.close();
                    stopped.countDown();
                }, "peft4j-serve-shutdown");
                Runtime.getRuntime().addShutdownHook(hook);
                try {
                    for (String spec : adapterSpecs) {
                        int eq = spec.indexOf('=');
                        if (eq <= 0) {
                            throw new ConfigException("--adapter", "expected NAME=DIR, got \"" + spec + "\"");
                        }
                        server.adapters().load(spec.substring(0, eq), Path.of(spec.substring(eq + 1)));
                    }
                    for (String spec : combineSpecs) {
                        combine(server, spec);
                    }
                } catch (RuntimeException e) {
                    Runtime.getRuntime().removeShutdownHook(hook);
                    server.close();
                    throw e;
                }
                System.out.println("peft4j serve: http://" + host + ":" + server.port() + "/v1  models "
                        + server.engine().models().list().stream().map(ServedModels.Info::id).toList()
                        + (o.apiKey() != null ? "  (API key required)" : "")
                        + (chat == null ? "  (no chat template: /v1/chat/completions refused)" : ""));
                System.out.flush();
                stopped.await();
            }
        }
        return 0;
    }

    private static void combine(PeftServer server, String spec) {
        int eq = spec.indexOf('=');
        if (eq <= 0) {
            throw new ConfigException("--combine", "expected NAME=A+B[:TYPE], got \"" + spec + "\"");
        }
        String rest = spec.substring(eq + 1);
        String type = "cat";
        int colon = rest.lastIndexOf(':');
        if (colon > 0) {
            type = rest.substring(colon + 1);
            rest = rest.substring(0, colon);
        }
        List<String> names = Arrays.stream(rest.split("\\+")).map(String::strip).toList();
        try {
            server.adapters().combine(spec.substring(0, eq), names, names.stream().map(n -> 1.0).toList(), type,
                    "weighted", java.util.Map.of());
        } catch (io.peft4j.serve.engine.ServeException e) {
            throw new ConfigException("--combine", spec + ": " + e.getMessage());
        }
    }
}
