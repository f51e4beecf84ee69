package io.peft4j.it.support;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locations of the distribution Maven assembled for this test run, and of the shared test data. */
public final class Dist {
    private Dist() {
    }

    /** The distribution root (bin/, lib/, plugins/), from system property {@code peft4j.dist.dir}. */
    public static Path home() {
        String p = System.getProperty("peft4j.dist.dir");
        if (p == null) {
            throw new IllegalStateException("system property peft4j.dist.dir is not set (run the tests with Maven)");
        }
        return Path.of(p);
    }

    /** The plugins directory of the distribution: the only place the tests load plugins from. */
    public static Path pluginsDir() {
        return home().resolve("plugins");
    }

    /**
     * Golden vectors directory: system property {@code peft4j.golden.dir}, defaulting to {@code ../shared/golden}
     * beside the checkout.
     */
    public static Path goldenDir() {
        String p = System.getProperty("peft4j.golden.dir");
        if (p != null) {
            return Path.of(p);
        }
        String root = System.getProperty("peft4j.repo.root", "..");
        Path d = Path.of(root).resolve("../shared/golden").normalize();
        return Files.isDirectory(d) ? d : Path.of("../shared/golden");
    }
}
