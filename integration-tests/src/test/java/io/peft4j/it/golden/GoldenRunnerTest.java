package io.peft4j.it.golden;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peft4j.core.plugin.InstalledExtensions;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.it.support.Dist;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Runs every golden case in the directory given by {@code peft4j.golden.dir} (default {@code ../shared/golden})
 * whose method is installed in the distribution's plugins directory. A case whose method is installed but which
 * has no handler fails, so a new plugin cannot silently skip its vectors. Prints which cases ran and which were
 * skipped (method not installed).
 */
class GoldenRunnerTest {
    private static PluginRuntime runtime;
    private static final Map<String, String> OUTCOME = new TreeMap<>();

    @BeforeAll
    static void start() {
        runtime = PluginRuntime.start(Dist.pluginsDir());
    }

    @AfterAll
    static void report() {
        System.out.println("Golden cases from " + Dist.goldenDir() + ":");
        OUTCOME.forEach((k, v) -> System.out.println("  " + v + "  " + k));
        if (runtime != null) {
            runtime.close();
        }
    }

    @TestFactory
    Stream<DynamicTest> goldenCases() throws Exception {
        Path dir = Dist.goldenDir();
        assertThat(dir.resolve("index.json")).as("golden index in " + dir).exists();
        JsonNode index = new ObjectMapper().readTree(dir.resolve("index.json").toFile());
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode entry : index.get("cases")) {
            String name = entry.get("case").asText();
            Path file = dir.resolve(entry.get("file").asText());
            tests.add(DynamicTest.dynamicTest(name, () -> runCase(name, file)));
        }
        return tests.stream();
    }

    private static void runCase(String name, Path file) throws Exception {
        assertThat(Files.exists(file)).as(file.toString()).isTrue();
        GoldenCase c = GoldenCase.read(file);
        Optional<GoldenHandlers.Handler> handler = GoldenHandlers.find(c, runtime.extensions());
        if (handler.isEmpty()) {
            OUTCOME.put(name, "SKIPPED (method '" + c.method + "' not installed)");
            Assumptions.abort("method " + c.method + " is not installed");
        }
        try (NDManager m = NDManager.newBaseManager()) {
            handler.get().run(c, m);
            OUTCOME.put(name, "PASSED ");
        } catch (Throwable t) {
            OUTCOME.put(name, "FAILED ");
            throw t;
        }
    }

    static InstalledExtensions extensions() {
        return runtime.extensions();
    }
}
