package io.peft4j.plugins.testkit;

import ai.djl.ndarray.NDManager;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;

/**
 * Runs a plugin's own golden cases in its unit tests: every case in {@link GoldenClaims#dirs()} that the plugin's
 * descriptor ({@link GoldenClaims#ofPlugin}) claims becomes one dynamic test, run by the handler given for its
 * family against the plugin's classes. A claimed family without a handler is a failing test, not a skip, so a
 * case the descriptor promises cannot go unchecked at this level.
 * <pre>
 * &#64;TestFactory
 * Stream&lt;DynamicTest&gt; golden() {
 *     return GoldenSuite.of("lora").on("lora_forward", this::forward).on("lora_merge", this::merge).tests();
 * }
 * </pre>
 */
public final class GoldenSuite {
    /** Runs one case; the manager is fresh per case and closed after it. */
    @FunctionalInterface
    public interface Handler {
        void run(GoldenCase c, NDManager m) throws Exception;
    }

    private final GoldenClaims claims;
    private final Map<String, Handler> handlers = new LinkedHashMap<>();

    private GoldenSuite(GoldenClaims claims) {
        this.claims = claims;
    }

    public static GoldenSuite of(String pluginId) {
        return new GoldenSuite(GoldenClaims.ofPlugin(pluginId));
    }

    /** The handler for one family the descriptor claims; naming an unclaimed family is an error. */
    public GoldenSuite on(String family, Handler h) {
        if (!claims.checks().containsKey(family)) {
            throw new IllegalArgumentException("plugin " + claims.pluginId() + " does not claim golden family '"
                    + family + "' (claimed: " + claims.checks().keySet() + ")");
        }
        handlers.put(family, h);
        return this;
    }

    /**
     * Marks a claimed family as checked only through the installed jar, for a case that needs platform classes
     * this level does not have; its cases are reported as aborted with {@code reason}, not left out.
     */
    public GoldenSuite installedOnly(String family, String reason) {
        return on(family, (c, m) -> Assumptions.abort(c.name() + " runs only through the installed jar: " + reason));
    }

    /** One dynamic test per claimed case in every vector directory. */
    public Stream<DynamicTest> tests() {
        List<DynamicTest> out = new ArrayList<>();
        for (Path dir : GoldenClaims.dirs()) {
            for (Path file : GoldenClaims.caseFiles(dir)) {
                GoldenCase c = GoldenCase.read(file);
                Optional<String> family = claims.familyOf(c.name());
                if (family.isEmpty()) {
                    continue;
                }
                Handler h = handlers.get(family.get());
                String label = dir.getFileName() + "/" + c.name();
                out.add(DynamicTest.dynamicTest(label, () -> {
                    if (h == null) {
                        throw new AssertionError("plugin " + claims.pluginId() + " claims golden family '"
                                + family.get() + "' but its unit test gives no handler for it (case " + file + ")");
                    }
                    try (NDManager m = NDManager.newBaseManager()) {
                        h.run(c, m);
                    }
                }));
            }
        }
        if (out.isEmpty()) {
            // Another vector set may hold none of this plugin's families; integration-tests still fails for any
            // case that no plugin claims, so nothing goes unchecked.
            System.err.println("golden: no case in " + GoldenClaims.dirs() + " is claimed by plugin "
                    + claims.pluginId() + " (families " + claims.checks().keySet() + ")");
        }
        return out.stream();
    }
}
