package io.peft4j.it.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.peft4j.core.cli.Main;
import io.peft4j.core.plugin.PluginReport;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.it.support.Dist;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator's view: the real plugin jars copied into a plugins directory next to broken ones; the broken ones are
 * reported with the plugin id and the reason, and everything else keeps working.
 */
class PluginsDirectoryTest {
    @TempDir
    Path tmp;

    private Path pluginsWithBrokenJars() throws IOException {
        Path dir = tmp.resolve("plugins");
        Files.createDirectories(dir);
        try (Stream<Path> jars = Files.list(Dist.pluginsDir())) {
            for (Path j : jars.toList()) {
                Files.copy(j, dir.resolve(j.getFileName()));
            }
        }
        // A plugin that needs a newer platform than this one.
        jar(dir.resolve("future-method.jar"), "future-method", ">=2.0.0");
        // A jar whose descriptor has no Plugin-Id.
        jar(dir.resolve("no-descriptor.jar"), null, null);
        return dir;
    }

    private static void jar(Path file, String id, String requires) throws IOException {
        Manifest mf = new Manifest();
        mf.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        if (id != null) {
            mf.getMainAttributes().putValue("Plugin-Id", id);
            mf.getMainAttributes().putValue("Plugin-Version", "1.0.0");
            mf.getMainAttributes().putValue("Plugin-Requires", requires);
        }
        try (OutputStream os = Files.newOutputStream(file); JarOutputStream jos = new JarOutputStream(os, mf)) {
            jos.flush();
        }
    }

    @Test
    void brokenPluginsAreReportedAndTheRestWorks() throws IOException {
        Path dir = pluginsWithBrokenJars();
        try (PluginRuntime rt = PluginRuntime.start(dir)) {
            PluginReport report = rt.report();
            assertThat(rt.extensions().adapters()).containsKey("lora");
            assertThat(report.hasFailures()).isTrue();
            String text = report.render();
            assertThat(text).contains("lora").contains("future-method").contains(">=2.0.0")
                    .contains("no-descriptor.jar");
        }
    }

    @Test
    void pluginsCommandListsPluginsAndFailures() throws IOException {
        Path dir = pluginsWithBrokenJars();
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        int code;
        try {
            System.setOut(new PrintStream(buf, true));
            code = Main.run("plugins", "--plugins", dir.toString());
        } finally {
            System.setOut(old);
        }
        String out = buf.toString();
        assertThat(code).as("non-zero exit when a plugin failed").isEqualTo(1);
        assertThat(out).contains("lora").contains("future-method");
        assertThat(Main.run("plugins", "--plugins", Dist.pluginsDir().toString())).isZero();
    }
}
