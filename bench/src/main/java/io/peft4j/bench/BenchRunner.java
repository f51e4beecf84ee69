package io.peft4j.bench;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import io.peft4j.core.plugin.PluginRuntime;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs a benchmark: prints the {@code kind: env} line (unless disabled), then one {@code kind: config} line per case
 * ({@code kind: error} for a case that failed; the others still run). With {@link BenchOptions#fork()} and several
 * cases, each case runs in a fresh JVM ({@link BenchMain} with the same class path and JVM options) so that
 * {@code rss_peak_mib} (VmHWM) is the case's own, as the peer's one-subprocess-per-config driver does.
 *
 * <p>MFU = achieved GFLOP/s ÷ the best fp32 2048³ (and 1024³) matmul GFLOP/s measured by DJL in this run with the
 * same thread count.
 */
public final class BenchRunner {
    /** System properties DJL's PyTorch engine reads when it starts. */
    static final String THREADS_PROPERTY = "ai.djl.pytorch.num_threads";
    static final String INTEROP_PROPERTY = "ai.djl.pytorch.num_interop_threads";

    private BenchRunner() {
    }

    /** Runs every case of {@code options}, writing JSON lines to {@code jsonOut}. */
    public static void run(BenchOptions options, PrintStream jsonOut) {
        configureThreads(options.threads());
        double p1024 = options.peak1024();
        double p2048 = options.peak2048();
        try (NDManager root = NDManager.newBaseManager()) {
            if (options.printEnv() || p1024 <= 0 || p2048 <= 0) {
                p1024 = MatmulPeak.gflops(root, 1024, 20);
                p2048 = MatmulPeak.gflops(root, 2048, 5);
            }
            if (options.printEnv()) {
                emit(jsonOut, envRecord(options, p1024, p2048));
            }
            if (options.fork() && options.cases().size() > 1) {
                for (BenchCase c : options.cases()) {
                    runChild(options.forChild(c, p1024, p2048), c, jsonOut);
                }
                quantEval(options, jsonOut);
                return;
            }
            boolean needsPlugins = options.cases().stream().anyMatch(c -> c.mode() != BenchMode.FULL);
            PluginRuntime runtime = needsPlugins ? PluginRuntime.start(options.pluginsDir()) : null;
            try {
                CaseMeasurement m = new CaseMeasurement(options, p1024, p2048);
                for (BenchCase c : options.cases()) {
                    try {
                        emit(jsonOut, m.run(c, root, runtime, r -> emit(jsonOut, r)));
                    } catch (RuntimeException e) {
                        emit(jsonOut, errorRecord(c, e.toString()));
                    }
                }
            } finally {
                if (runtime != null) {
                    runtime.close();
                }
            }
            quantEval(options, jsonOut);
        }
    }

    /** The {@code quant_eval_loss} record when asked for (in this JVM, after the measured cases). */
    private static void quantEval(BenchOptions options, PrintStream jsonOut) {
        if (options.quantEvalSteps() <= 0) {
            return;
        }
        try (PluginRuntime rt = PluginRuntime.start(options.pluginsDir())) {
            emit(jsonOut, QuantEvalLoss.run(options.baseQuant(), options.quantEvalSteps(), rt));
        } catch (java.io.IOException | RuntimeException e) {
            Map<String, Object> err = new LinkedHashMap<>();
            err.put("kind", "quant_eval_loss");
            err.put("error", e.toString());
            emit(jsonOut, err);
        }
    }

    /**
     * Sets torch's intra-op threads now, and asks DJL (through its system properties) to set both intra- and
     * inter-op threads if the engine has not started yet; inter-op threads cannot be changed later.
     */
    static void configureThreads(int threads) {
        System.setProperty(THREADS_PROPERTY, Integer.toString(threads));
        if (System.getProperty(INTEROP_PROPERTY) == null) {
            System.setProperty(INTEROP_PROPERTY, Integer.toString(threads));
        }
        Engine.getInstance();
        JniUtils.setNumThreads(threads);
    }

    static Map<String, Object> envRecord(BenchOptions o, double p1024, double p2048) {
        Map<String, Object> env = new LinkedHashMap<>();
        env.put("kind", "env");
        env.put("date", LocalDateTime.now().truncatedTo(ChronoUnit.SECONDS).toString());
        env.put("tool", "peft4j-bench");
        env.put("java_version", System.getProperty("java.version"));
        env.put("java_vm", System.getProperty("java.vm.name") + " " + System.getProperty("java.vm.version"));
        env.put("jvm_args", ManagementFactory.getRuntimeMXBean().getInputArguments());
        env.put("djl_version", Engine.getDjlVersion());
        env.put("engine", Engine.getInstance().getEngineName());
        env.put("torch_version", Engine.getInstance().getVersion());
        env.put("threads", JniUtils.getNumThreads());
        env.put("interop_threads", JniUtils.getNumInteropThreads());
        env.put("math_libs", SystemProbe.mathLibraries());
        env.put("malloc_env", System.getenv().entrySet().stream().filter(e -> e.getKey().startsWith("MALLOC_"))
                .collect(java.util.stream.Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue)));
        env.put("lscpu", SystemProbe.lscpu());
        env.put("nproc", Runtime.getRuntime().availableProcessors());
        env.put("loadavg", SystemProbe.loadavg1());
        env.put("fork_per_config", o.fork() && o.cases().size() > 1);
        Map<String, Object> peak = new LinkedHashMap<>();
        peak.put("kind", "peak");
        peak.put("threads", JniUtils.getNumThreads());
        peak.put("matmul_1024_gflops", Json.round(p1024, 2));
        peak.put("matmul_2048_gflops", Json.round(p2048, 2));
        env.put("peak", peak);
        env.put("matmul_1024_gflops", Json.round(p1024, 2));
        env.put("matmul_2048_gflops", Json.round(p2048, 2));
        return env;
    }

    static Map<String, Object> errorRecord(BenchCase c, String message) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("kind", "error");
        r.put("size", c.sizeLabel());
        r.put("mode", c.mode().id());
        r.put("targets", c.targets());
        r.put("error", message);
        return r;
    }

    private static void emit(PrintStream out, Map<String, Object> rec) {
        out.println(Json.line(rec));
        out.flush();
    }

    /** Runs one case in a child JVM and relays its JSON lines; stderr is inherited. */
    private static void runChild(BenchOptions child, BenchCase c, PrintStream out) {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (!a.startsWith("-agentlib:jdwp")) {
                cmd.add(a);
            }
        }
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(BenchMain.class.getName());
        cmd.addAll(BenchMain.toArgs(child));
        try {
            Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            boolean sawConfig = false;
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(),
                    StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    if (line.startsWith("{")) {
                        sawConfig |= line.contains("\"kind\":\"config\"") || line.contains("\"kind\":\"error\"");
                        out.println(line);
                        out.flush();
                    }
                }
            }
            int rc = p.waitFor();
            if (!sawConfig) {
                emit(out, errorRecord(c, "child JVM exited with status " + rc + " without a result (see stderr)"));
            }
        } catch (IOException e) {
            emit(out, errorRecord(c, "cannot start a child JVM: " + e.getMessage()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            emit(out, errorRecord(c, "interrupted"));
        }
    }
}
