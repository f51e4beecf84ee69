package io.peft4j.bench;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Command line for {@link BenchRunner} (until the {@code peft4j bench} CLI wraps it). JSON lines go to stdout (and,
 * with {@code --out FILE}, are appended to FILE too).
 *
 * <pre>
 *   --size tiny,small,medium   random-weight shapes (default tiny)     --model DIR   a model directory instead
 *   --mode lora,full,merge,rss (default lora)                           --targets all,qv (default all)
 *   --plugins DIR  (plugins dir with the lora plugin; default: PluginRuntime.defaultPluginsDir())
 *   --r 8 --alpha 16 --lr 1e-3 --batch 0 --seq 0 --warmup 3 --steps 5 --threads 2 --seed 1234
 *   --rss-steps 1000 --rss-every 50  --no-fork  --no-env  --peak-1024 X --peak-2048 Y  --out FILE
 *   --quant nf4   (QLoRA: the frozen base linears, lm_head excepted, stored with that installed quantizer)
 *   --grad-checkpoint   (train steps recompute each layer's activations in backward: less memory)
 *   --unfused-loss      (lm_head + loss through autograd at full size instead of fused row chunks)
 *   --quant-eval STEPS  (with --quant: train the bundled demo LoRA run on fp32 and quantized bases, report eval loss)
 *   --no-fwd            (skip the forward-only timing: only load and train steps, for large model directories)
 * </pre>
 * Cases are every size (or the model) × mode × targets; {@code full} ignores targets.
 */
public final class BenchMain {
    private BenchMain() {
    }

    public static void main(String[] args) throws IOException {
        System.exit(run(args));
    }

    /** Runs the benchmark; returns 2 for bad arguments (message on stderr), 0 otherwise. */
    public static int run(String... args) throws IOException {
        BenchOptions o;
        Path out;
        try {
            Parsed p = parse(args);
            o = p.options;
            out = p.out;
        } catch (IllegalArgumentException e) {
            System.err.println("peft4j bench: " + e.getMessage());
            return 2;
        }
        if (out == null) {
            BenchRunner.run(o, System.out);
            return 0;
        }
        try (OutputStream file = new FileOutputStream(out.toFile(), true);
             PrintStream tee = new PrintStream(new TeeStream(System.out, file), true, StandardCharsets.UTF_8)) {
            BenchRunner.run(o, tee);
        }
        return 0;
    }

    record Parsed(BenchOptions options, Path out) {
    }

    static Parsed parse(String[] args) {
        BenchOptions.Builder b = BenchOptions.builder();
        List<String> sizes = List.of("tiny");
        List<String> modes = List.of("lora");
        List<String> targets = List.of("all");
        Path model = null;
        Path plugins = null;
        Path out = null;
        double p1024 = 0;
        double p2048 = 0;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--no-fork" -> b.fork(false);
                case "--no-env" -> b.printEnv(false);
                case "--grad-checkpoint" -> b.gradCheckpoint(true);
                case "--unfused-loss" -> b.fusedLoss(false);
                case "--no-fwd" -> b.timeForward(false);
                default -> {
                    if (!a.startsWith("--") || i + 1 >= args.length) {
                        throw new IllegalArgumentException("unknown or incomplete option '" + a + "'");
                    }
                    String v = args[++i];
                    switch (a) {
                        case "--size" -> sizes = split(v);
                        case "--model" -> model = Path.of(v);
                        case "--mode" -> modes = split(v);
                        case "--targets" -> targets = split(v);
                        case "--plugins" -> plugins = Path.of(v);
                        case "--r" -> b.rank(intArg(a, v));
                        case "--alpha" -> b.alpha(doubleArg(a, v));
                        case "--lr" -> b.lr(doubleArg(a, v));
                        case "--batch" -> b.batch(intArg(a, v));
                        case "--seq" -> b.seq(intArg(a, v));
                        case "--warmup" -> b.warmup(intArg(a, v));
                        case "--steps" -> b.steps(intArg(a, v));
                        case "--threads" -> b.threads(intArg(a, v));
                        case "--seed" -> b.seed(intArg(a, v));
                        case "--rss-steps" -> b.rssSteps(intArg(a, v));
                        case "--rss-every" -> b.rssEvery(intArg(a, v));
                        case "--peak-1024" -> p1024 = doubleArg(a, v);
                        case "--peak-2048" -> p2048 = doubleArg(a, v);
                        case "--out" -> out = Path.of(v);
                        case "--quant" -> b.baseQuant(v);
                        case "--quant-eval" -> b.quantEvalSteps(intArg(a, v));
                        default -> throw new IllegalArgumentException("unknown option '" + a + "'");
                    }
                }
            }
        }
        b.peaks(p1024, p2048);
        Set<String> seen = new LinkedHashSet<>();
        List<BenchCase> cases = new ArrayList<>();
        List<String> models = model != null ? List.of("") : sizes;
        for (String s : models) {
            for (String m : modes) {
                BenchMode mode = BenchMode.parse(m);
                for (String t : mode == BenchMode.FULL ? List.of("all") : targets) {
                    BenchCase c = model != null ? new BenchCase(null, model, mode, t)
                            : new BenchCase(BenchShape.parse(s), null, mode, t);
                    if (seen.add(c.toString())) {
                        cases.add(c);
                    }
                }
            }
        }
        cases.forEach(b::add);
        boolean needsPlugins = cases.stream().anyMatch(c -> c.mode() != BenchMode.FULL);
        if (needsPlugins) {
            b.pluginsDir(plugins != null ? plugins : io.peft4j.core.plugin.PluginRuntime.defaultPluginsDir());
        } else if (plugins != null) {
            b.pluginsDir(plugins);
        }
        return new Parsed(b.build(), out);
    }

    /** The arguments that reproduce {@code o} (for a child JVM). */
    static List<String> toArgs(BenchOptions o) {
        List<String> a = new ArrayList<>();
        BenchCase c = o.cases().get(0);
        if (o.cases().size() != 1) {
            throw new IllegalArgumentException("toArgs supports one case, got " + o.cases().size());
        }
        if (c.modelDir() != null) {
            a.addAll(List.of("--model", c.modelDir().toAbsolutePath().toString()));
        } else {
            a.addAll(List.of("--size", c.shape().id()));
        }
        a.addAll(List.of("--mode", c.mode().id()));
        if (c.targets() != null) {
            a.addAll(List.of("--targets", c.targets()));
        }
        if (o.pluginsDir() != null) {
            a.addAll(List.of("--plugins", o.pluginsDir().toAbsolutePath().toString()));
        }
        a.addAll(List.of("--r", Integer.toString(o.rank()), "--alpha", num(o.alpha()), "--lr", num(o.lr()),
                "--batch", Integer.toString(o.batch()), "--seq", Integer.toString(o.seq()),
                "--warmup", Integer.toString(o.warmup()), "--steps", Integer.toString(o.steps()),
                "--threads", Integer.toString(o.threads()), "--seed", Long.toString(o.seed()),
                "--rss-steps", Integer.toString(o.rssSteps()), "--rss-every", Integer.toString(o.rssEvery()),
                "--peak-1024", num(o.peak1024()), "--peak-2048", num(o.peak2048())));
        if (o.baseQuant() != null) {
            a.addAll(List.of("--quant", o.baseQuant()));
        }
        if (o.gradCheckpoint()) {
            a.add("--grad-checkpoint");
        }
        if (!o.fusedLoss()) {
            a.add("--unfused-loss");
        }
        if (!o.timeForward()) {
            a.add("--no-fwd");
        }
        if (!o.fork()) {
            a.add("--no-fork");
        }
        if (!o.printEnv()) {
            a.add("--no-env");
        }
        return a;
    }

    private static String num(double d) {
        return String.format(Locale.ROOT, "%s", d);
    }

    private static List<String> split(String v) {
        List<String> out = new ArrayList<>();
        for (String s : v.split(",")) {
            if (!s.isBlank()) {
                out.add(s.trim());
            }
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("empty list '" + v + "'");
        }
        return out;
    }

    private static int intArg(String name, String v) {
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " expects an integer, got '" + v + "'");
        }
    }

    private static double doubleArg(String name, String v) {
        try {
            return Double.parseDouble(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " expects a number, got '" + v + "'");
        }
    }

    /** Writes to two streams. */
    private static final class TeeStream extends OutputStream {
        private final OutputStream a;
        private final OutputStream b;

        TeeStream(OutputStream a, OutputStream b) {
            this.a = a;
            this.b = b;
        }

        @Override
        public void write(int x) throws IOException {
            a.write(x);
            b.write(x);
        }

        @Override
        public void write(byte[] buf, int off, int len) throws IOException {
            a.write(buf, off, len);
            b.write(buf, off, len);
        }

        @Override
        public void flush() throws IOException {
            a.flush();
            b.flush();
        }
    }
}
