package io.peft4j.it.support;

import io.peft4j.core.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** The {@code peft4j} command line run in-process, with the distribution's plugins and one thread. */
public final class Cli {
    private Cli() {
    }

    /** What a run printed. */
    public record Result(int exitCode, String out, String err) {
    }

    /** Runs {@code peft4j COMMAND ARGS...} (the first argument is the command). */
    public static Result run(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        List<String> all = new ArrayList<>(List.of(args));
        all.add(1, "--plugins=" + Dist.pluginsDir());
        all.add(2, "--threads=1");
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            int rc = Main.run(all.toArray(String[]::new));
            return new Result(rc, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }
}
