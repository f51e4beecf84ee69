package io.peft4j.bench;

import static org.assertj.core.api.Assertions.assertThat;

import io.peft4j.core.cli.CliExtension;
import io.peft4j.core.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;

/** {@code peft4j bench} reaches core's CLI through the {@link CliExtension} ServiceLoader seam. */
class BenchCommandTest {

    @Test
    void registeredAsCliExtension() {
        assertThat(ServiceLoader.load(CliExtension.class).stream().map(ServiceLoader.Provider::type))
                .contains(BenchCommand.class);
    }

    @Test
    void helpAndBadArgumentsThroughCoreMain() {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            assertThat(Main.run("bench", "--help")).isZero();
            assertThat(Main.run("bench", "--size", "huge")).isEqualTo(2);
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
        assertThat(o.toString(StandardCharsets.UTF_8)).contains("Usage: peft4j bench").contains("--size tiny,small");
        assertThat(e.toString(StandardCharsets.UTF_8)).contains("peft4j bench: unknown bench size 'huge'");
    }
}
