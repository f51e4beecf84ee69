package io.peft4j.it.golden;

import ai.djl.ndarray.NDManager;
import io.peft4j.core.plugin.InstalledExtensions;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.it.support.Dist;
import io.peft4j.plugins.testkit.GoldenCase;
import io.peft4j.plugins.testkit.GoldenClaims;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.jar.JarFile;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * The golden cases through the installed jars: which cases exist is read from the vector directories
 * ({@code peft4j.golden.dir}, default {@code ../shared/golden}; and the PEFT-generated edge cases in
 * {@code golden-extra/}, or {@code peft4j.golden.extra.dir}), which plugin answers for each from the golden
 * descriptors ({@value GoldenClaims#RESOURCE_DIR}{@code <id>.properties}) inside the plugin jars of the
 * distribution's plugins directory, and each claim runs the check its descriptor names ({@link GoldenChecks})
 * against the PF4J-loaded extension. A case no installed plugin claims fails, so no vector goes unchecked; a case
 * several plugins claim ({@code peft_state_dict_keys}) runs once per plugin. The plugins run the same cases against
 * their own classes in their unit tests ({@code GoldenSuite}).
 */
class InstalledGoldenTest {
    private static PluginRuntime runtime;
    private static List<GoldenClaims> claims;
    private static final Map<String, String> OUTCOME = Collections.synchronizedMap(new TreeMap<>());

    @BeforeAll
    static void start() throws IOException {
        claims = installedClaims(Dist.pluginsDir());
        runtime = PluginRuntime.start(Dist.pluginsDir());
    }

    @AfterAll
    static void report() {
        System.out.println("Golden cases through the installed jars (" + OUTCOME.size() + " runs):");
        OUTCOME.forEach((k, v) -> System.out.println("  " + v + "  " + k));
        if (runtime != null) {
            runtime.close();
        }
    }

    static InstalledExtensions extensions() {
        return runtime.extensions();
    }

    @TestFactory
    Stream<DynamicTest> goldenCases() {
        return casesIn(Dist.goldenDir());
    }

    @TestFactory
    Stream<DynamicTest> peftEdgeCases() throws Exception {
        String p = System.getProperty(GoldenClaims.EXTRA_DIR_PROPERTY);
        Path dir = p != null ? Path.of(p)
                : Path.of(InstalledGoldenTest.class.getResource("/golden-extra/index.json").toURI()).getParent();
        return casesIn(dir);
    }

    /** The golden descriptors of the plugin jars in {@code pluginsDir}, read from the jars themselves. */
    static List<GoldenClaims> installedClaims(Path pluginsDir) throws IOException {
        List<GoldenClaims> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(pluginsDir)) {
            for (Path jar : s.filter(p -> p.toString().endsWith(".jar")).sorted().toList()) {
                try (JarFile jf = new JarFile(jar.toFile())) {
                    for (ZipEntry e : Collections.list(jf.entries())) {
                        String n = e.getName();
                        if (n.startsWith(GoldenClaims.RESOURCE_DIR) && n.endsWith(".properties")) {
                            String id = n.substring(GoldenClaims.RESOURCE_DIR.length(), n.length() - 11);
                            try (InputStream in = jf.getInputStream(e)) {
                                out.add(GoldenClaims.parse(id, in, jar.getFileName() + "!/" + n));
                            }
                        }
                    }
                }
            }
        }
        if (out.isEmpty()) {
            throw new IllegalStateException("no plugin jar in " + pluginsDir + " declares golden cases");
        }
        return out;
    }

    private static Stream<DynamicTest> casesIn(Path dir) {
        List<DynamicTest> tests = new ArrayList<>();
        for (Path file : GoldenClaims.caseFiles(dir)) {
            GoldenCase c = GoldenCase.read(file);
            String label = dir.getFileName() + "/" + c.name();
            List<GoldenClaims> by = claims.stream().filter(cl -> cl.familyOf(c.name()).isPresent()).toList();
            if (by.isEmpty()) {
                tests.add(DynamicTest.dynamicTest(label, () -> {
                    OUTCOME.put(label, "UNCLAIMED");
                    throw new AssertionError("golden case " + file + " (method '" + c.method() + "') is claimed by "
                            + "no installed plugin: add its family to that plugin's "
                            + GoldenClaims.RESOURCE_DIR + "<id>.properties");
                }));
            }
            for (GoldenClaims cl : by) {
                String family = cl.familyOf(c.name()).orElseThrow();
                String run = label + " [" + cl.pluginId() + ": " + cl.checks().get(family) + "]";
                tests.add(DynamicTest.dynamicTest(run, () -> {
                    GoldenChecks.Check check = GoldenChecks.get(cl.checks().get(family), cl);
                    try (NDManager m = NDManager.newBaseManager()) {
                        check.run(new GoldenChecks.Target(c, cl, runtime.extensions(), m));
                        OUTCOME.put(run, "PASSED");
                    } catch (Throwable t) {
                        OUTCOME.put(run, "FAILED");
                        throw t;
                    }
                }));
            }
        }
        return tests.stream();
    }
}
