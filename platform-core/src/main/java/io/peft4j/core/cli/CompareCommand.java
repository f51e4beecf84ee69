package io.peft4j.core.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.peft4j.core.config.RunConfig;
import io.peft4j.core.config.RunConfigParser;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.run.Bundled;
import io.peft4j.core.run.CompareReport;
import io.peft4j.core.run.CompareRun;
import io.peft4j.core.run.RunConfigValidator;
import io.peft4j.core.run.RunPlan;
import io.peft4j.core.run.TuningSession;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code peft4j compare CONFIG...}: trains each configuration in its own JVM (so peak RSS is its own) on the data
 * and budget it declares, and writes {@code compare.md}, {@code compare.json} and {@code compare.png}.
 */
@Command(name = "compare", description = "Train several configs on the same data and budget; write a Markdown table "
        + "and a PNG (trainable params, eval loss, task score, tokens/s, peak RSS, adapter size, latency).")
final class CompareCommand implements Callable<Integer> {
    static final String RESULT_PREFIX = "PEFT4J_COMPARE_RESULT ";

    @Mixin
    PluginOptions plugins = new PluginOptions();

    @Parameters(paramLabel = "CONFIG", arity = "1..*",
            description = "Run configurations (files, or bundled:compare/<name>.yaml).")
    List<String> configs;

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "runs/compare") Path out;

    @Option(names = "--steps", paramLabel = "N", description = "Override every config's training.steps.")
    Integer steps;

    @Override
    public Integer call() throws Exception {
        Files.createDirectories(out);
        List<CompareRun.Result> rows = new ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        for (String c : configs) {
            String name = nameOf(c);
            System.out.println("== " + name);
            List<String> cmd = new ArrayList<>();
            cmd.add(ProcessHandle.current().info().command().orElse("java"));
            cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
            cmd.add("-cp");
            cmd.add(System.getProperty("java.class.path"));
            cmd.add(Main.class.getName());
            cmd.addAll(List.of("compare-run", c, "--name", name, "--out", out.resolve(name).toString()));
            if (steps != null) {
                cmd.addAll(List.of("--steps", steps.toString()));
            }
            if (plugins.pluginsDir != null) {
                cmd.addAll(List.of("--plugins", plugins.pluginsDir.toString()));
            }
            if (plugins.threads != null) {
                cmd.addAll(List.of("--threads", plugins.threads.toString()));
            }
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            CompareRun.Result result = null;
            StringBuilder tail = new StringBuilder();
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    if (line.startsWith(RESULT_PREFIX)) {
                        result = json.readValue(line.substring(RESULT_PREFIX.length()), CompareRun.Result.class);
                    } else if (line.startsWith("error:")) {
                        tail.append(line.substring(6).trim());
                    }
                }
            }
            int code = p.waitFor();
            rows.add(result != null ? result : CompareRun.Result.failed(name,
                    tail.length() > 0 ? tail.toString() : "exit code " + code));
            System.out.println(rows.get(rows.size() - 1));
        }
        CompareReport.write(rows, out);
        Files.writeString(out.resolve("compare.json"), new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                .writeValueAsString(rows));
        System.out.println(CompareReport.markdown(rows));
        System.out.println("wrote " + out.resolve("compare.md") + " and " + out.resolve("compare.png"));
        return 0;
    }

    static String nameOf(String config) {
        String f = config.substring(config.lastIndexOf('/') + 1);
        int dot = f.lastIndexOf('.');
        return dot > 0 ? f.substring(0, dot) : f;
    }

    /** The child side: one configuration, one JSON result line. */
    @Command(name = "compare-run", hidden = true, description = "Internal: one row of 'peft4j compare'.")
    static final class RunOne implements Callable<Integer> {
        @Mixin
        PluginOptions plugins = new PluginOptions();

        @Parameters(index = "0") String config;
        @Option(names = "--name", required = true) String name;
        @Option(names = "--out", required = true) Path out;
        @Option(names = "--steps") Integer steps;

        @Override
        public Integer call() throws Exception {
            Path file = config.startsWith(Bundled.PREFIX) ? Bundled.file(config, "config") : Path.of(config);
            RunConfig cfg = RunConfigParser.parse(file).withOutputDir(out.toString());
            if (steps != null) {
                cfg = cfg.withTraining(cfg.training().withSteps(steps));
            }
            cfg = cfg.withTraining(cfg.training().withProgressBar(false));
            try (PluginRuntime rt = plugins.start(cfg.model().device())) {
                RunPlan plan = RunConfigValidator.validate(cfg, rt.extensions());
                try (TuningSession s = TuningSession.open(plan, rt.extensions())) {
                    CompareRun.Result r = CompareRun.run(name, s);
                    System.out.println(RESULT_PREFIX + new ObjectMapper().writeValueAsString(r));
                }
            }
            return 0;
        }
    }
}
