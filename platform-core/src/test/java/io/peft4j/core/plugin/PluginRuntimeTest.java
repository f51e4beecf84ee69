package io.peft4j.core.plugin;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.inject.Guice;
import com.google.inject.Injector;
import io.peft4j.api.Adapter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The plugin runtime on real plugin jars (compiled at test time): discovery, Guice injection, platform-first
 * class loading, and that every kind of broken plugin is reported by name and reason while the good one keeps
 * working.
 */
class PluginRuntimeTest {

    @TempDir
    static Path shared;

    private static Path jars;
    private static Map<String, Path> jar;

    @TempDir
    Path pluginsDir;

    @BeforeAll
    static void buildPluginJars() throws IOException {
        jars = Files.createDirectories(shared.resolve("jars"));
        Path good = TestPlugins.good(jars);
        Map<String, Path> m = new java.util.LinkedHashMap<>();
        m.put("good", good);
        m.put("broken", TestPlugins.brokenDescriptor(jars));
        m.put("boom", TestPlugins.boom(jars));
        m.put("future", TestPlugins.future(jars));
        m.put("dup", TestPlugins.dup(jars));
        m.put("orphan", TestPlugins.orphan(jars));
        m.put("fat", TestPlugins.fat(jars));
        m.put("dependent", TestPlugins.dependent(jars, good));
        m.put("needs-future", TestPlugins.needsFuture(jars));
        m.put("too-new-dep", TestPlugins.tooNewDependency(jars));
        m.put("unbound", TestPlugins.unbound(jars));
        jar = java.util.Collections.unmodifiableMap(m);
    }

    private static Injector root() {
        Clock clock = Clock.fixed(Instant.parse(TestPlugins.FIXED_INSTANT), ZoneOffset.UTC);
        return Guice.createInjector(b -> b.bind(Clock.class).toInstance(clock));
    }

    private PluginRuntime startWith(String... names) throws IOException {
        for (String n : names) {
            Files.copy(jar.get(n), pluginsDir.resolve(jar.get(n).getFileName()));
        }
        return PluginRuntime.start(pluginsDir, root());
    }

    /** The good plugin is fully usable: adapter injected from root and plugin module, initializer present. */
    private static void assertGoodPluginWorks(PluginRuntime rt) {
        Adapter good = rt.extensions().adapter("good").orElseThrow();
        assertThat(good.description()).isEqualTo("good adapter at " + TestPlugins.FIXED_INSTANT + " from-plugin-module");
        assertThat(rt.extensions().contributor(ExtensionKind.ADAPTER, "good")).contains("good");
        assertThat(rt.extensions().initializerFor("good_svd")).isPresent();
        assertThat(rt.report().plugin("good").orElseThrow().state()).isEqualTo("STARTED");
    }

    @Test
    void adapterIsDiscoveredCachedAndInjectedFromRootAndPluginModule() throws IOException {
        try (PluginRuntime rt = startWith("good")) {
            assertGoodPluginWorks(rt);
            InstalledExtensions ext = rt.extensions();
            // cached: one instance per extension, unlike PF4J's getExtensions
            assertThat(ext.adapter("good").orElseThrow()).isSameAs(ext.adapters().get("good"));
            assertThat(ext.initializer("good-init")).isPresent();
            assertThat(ext.initializerFor("lora")).isEmpty();
            assertThat(ext.ids(ExtensionKind.ADAPTER)).containsExactly("good");
            // the adapter's class comes from the plugin, its interface from the platform
            Adapter good = ext.adapter("good").orElseThrow();
            assertThat(good.getClass().getClassLoader()).isInstanceOf(PlatformFirstClassLoader.class);
            assertThat(rt.pluginManager().whichPlugin(good.getClass()).getPluginId()).isEqualTo("good");

            PluginReport report = rt.report();
            assertThat(report.problems()).isEmpty();
            assertThat(report.apiVersion()).isEqualTo("0.1.0");
            PluginReport.PluginInfo info = report.plugin("good").orElseThrow();
            assertThat(info.version()).isEqualTo("1.2.0");
            assertThat(info.provider()).isEqualTo("peft4j tests");
            assertThat(info.path().getFileName().toString()).isEqualTo("good.jar");
            assertThat(info.extensions()).extracting(PluginReport.ExtensionInfo::kind, PluginReport.ExtensionInfo::id)
                    .containsExactlyInAnyOrder(
                            org.assertj.core.groups.Tuple.tuple("adapter", "good"),
                            org.assertj.core.groups.Tuple.tuple("initializer", "good-init"));
        }
    }

    @Test
    void unknownMethodErrorListsInstalledMethods() throws IOException {
        try (PluginRuntime rt = startWith("good")) {
            assertThat(org.assertj.core.api.Assertions.catchThrowable(() -> rt.extensions().requireAdapter("lora")))
                    .isInstanceOf(io.peft4j.api.ConfigException.class)
                    .hasMessageContaining("'lora'").hasMessageContaining("installed methods: good");
        }
    }

    @Test
    void jarWithBadDescriptorIsReportedByFileName() throws IOException {
        try (PluginRuntime rt = startWith("good", "broken")) {
            assertGoodPluginWorks(rt);
            assertThat(rt.report().problemsOf("broken.jar")).singleElement().satisfies(p -> {
                assertThat(p.kind()).isEqualTo(PluginProblem.Kind.INVALID_DESCRIPTOR);
                assertThat(p.reason()).contains("descriptor");
                assertThat(p.path().getFileName().toString()).isEqualTo("broken.jar");
            });
            assertThat(rt.extensions().adapter("broken")).isEmpty();
        }
    }

    @Test
    void pluginWhoseStartThrowsIsFailedAndContributesNothing() throws IOException {
        try (PluginRuntime rt = startWith("good", "boom")) {
            assertGoodPluginWorks(rt);
            assertThat(rt.report().plugin("boom").orElseThrow().state()).isEqualTo("FAILED");
            assertThat(rt.report().problemsOf("boom")).singleElement().satisfies(p -> {
                assertThat(p.kind()).isEqualTo(PluginProblem.Kind.START_FAILED);
                assertThat(p.reason()).contains("IllegalStateException").contains("boom: the database is missing");
            });
            assertThat(rt.extensions().adapter("boom")).isEmpty();
        }
    }

    @Test
    void unsatisfiedRequiresNamesRangeAndPlatformVersion() throws IOException {
        try (PluginRuntime rt = startWith("good", "future")) {
            assertGoodPluginWorks(rt);
            assertThat(rt.report().plugin("future").orElseThrow().state()).isEqualTo("DISABLED");
            assertThat(rt.report().problemsOf("future")).singleElement().satisfies(p -> {
                assertThat(p.kind()).isEqualTo(PluginProblem.Kind.REQUIRES_UNSATISFIED);
                assertThat(p.reason()).contains(">=2.0.0").contains("0.1.0");
            });
            assertThat(rt.extensions().adapter("future")).isEmpty();
        }
    }

    @Test
    void secondPluginClaimingAMethodIdIsRejectedNamingBoth() throws IOException {
        try (PluginRuntime rt = startWith("good", "dup")) {
            assertGoodPluginWorks(rt); // still good's adapter
            assertThat(rt.report().problemsOf("other-good")).singleElement().satisfies(p -> {
                assertThat(p.kind()).isEqualTo(PluginProblem.Kind.DUPLICATE_EXTENSION_ID);
                assertThat(p.reason()).contains("'good'").contains("plugin 'good'").contains("plugin 'other-good'")
                        .contains("rejected");
            });
            // the rest of the second plugin still works
            assertThat(rt.extensions().contributor(ExtensionKind.ADAPTER, "dup-own")).contains("other-good");
            assertThat(rt.report().plugin("other-good").orElseThrow().extensions())
                    .extracting(PluginReport.ExtensionInfo::id).containsExactly("dup-own");
        }
    }

    @Test
    void extensionThatGuiceCannotBuildIsReported() throws IOException {
        try (PluginRuntime rt = startWith("good", "unbound")) {
            assertGoodPluginWorks(rt);
            assertThat(rt.report().plugin("unbound").orElseThrow().state()).isEqualTo("STARTED");
            assertThat(rt.report().problemsOf("unbound")).singleElement().satisfies(p -> {
                assertThat(p.kind()).isEqualTo(PluginProblem.Kind.EXTENSION_FAILED);
                assertThat(p.reason()).contains("Guice").contains("unbound.Missing");
            });
            assertThat(rt.extensions().adapter("unbound")).isEmpty();
        }
    }

    @Test
    void pluginWithMissingDependencyIsDroppedAndReported() throws IOException {
        try (PluginRuntime rt = startWith("good", "orphan")) {
            assertGoodPluginWorks(rt);
            assertThat(rt.report().plugin("orphan").orElseThrow().state()).isNull();
            assertThat(rt.report().problemsOf("orphan")).singleElement().satisfies(p -> {
                assertThat(p.kind()).isEqualTo(PluginProblem.Kind.MISSING_DEPENDENCY);
                assertThat(p.reason()).contains("'not-installed'").contains(">=1.0.0").contains("not installed");
            });
            assertThat(rt.extensions().adapter("orphan")).isEmpty();
            assertThat(rt.report().render()).contains("orphan").contains(PluginReport.DROPPED);
        }
    }

    @Test
    void dependencyInTheWrongVersionIsReported() throws IOException {
        try (PluginRuntime rt = startWith("good", "too-new-dep")) {
            assertGoodPluginWorks(rt);
            assertThat(rt.report().problemsOf("too-new-dep")).singleElement().satisfies(p -> {
                assertThat(p.kind()).isEqualTo(PluginProblem.Kind.WRONG_DEPENDENCY_VERSION);
                assertThat(p.reason()).contains("'good'").contains(">=5.0.0").contains("1.2.0");
            });
        }
    }

    @Test
    void fatJarBundlingApiClassesWorksWithAWarning() throws IOException {
        try (PluginRuntime rt = startWith("good", "fat")) {
            assertGoodPluginWorks(rt);
            Adapter fat = rt.extensions().adapter("fat").orElseThrow();
            // parent-first: the plugin's copy of io.peft4j.api.Adapter is never loaded
            assertThat(fat.getClass().getInterfaces()).containsExactly(Adapter.class);
            assertThat(rt.report().problemsOf("fat")).singleElement().satisfies(p -> {
                assertThat(p.kind()).isEqualTo(PluginProblem.Kind.BUNDLES_PLATFORM_CLASSES);
                assertThat(p.severity()).isEqualTo(PluginProblem.Severity.WARNING);
                assertThat(p.reason()).contains("io/peft4j/api/");
            });
            assertThat(rt.report().hasFailures()).isFalse();
        }
    }

    @Test
    void dependentPluginsStartInOrderAndStopCleanly() throws IOException {
        PluginRuntime rt = startWith("good", "dependent", "future", "needs-future");
        try {
            assertGoodPluginWorks(rt);
            // dependent uses a class of its dependency "good"
            assertThat(rt.extensions().adapter("dependent").orElseThrow().description())
                    .isEqualTo("dependent: hello from good");
            assertThat(rt.report().plugin("needs-future").orElseThrow().state()).isEqualTo("FAILED");
            assertThat(rt.report().problemsOf("needs-future")).singleElement().satisfies(p -> {
                assertThat(p.kind()).isEqualTo(PluginProblem.Kind.DEPENDENCY_NOT_STARTED);
                assertThat(p.reason()).contains("'future'").contains("DISABLED");
            });
            assertThat(rt.extensions().adapter("needs-future")).isEmpty();
        } finally {
            rt.close(); // PF4J 3.15's stopPlugins() would throw ConcurrentModificationException here
        }
        assertThat(rt.pluginManager().getStartedPlugins()).isEmpty();
        rt.close(); // idempotent
    }

    @Test
    void twoJarsWithTheSamePluginIdLoadOnlyOne() throws IOException {
        Files.copy(jar.get("good"), pluginsDir.resolve("good-copy.jar"));
        try (PluginRuntime rt = startWith("good")) {
            assertGoodPluginWorks(rt);
            assertThat(rt.report().problemsOf("good")).singleElement().satisfies(p -> {
                assertThat(p.kind()).isEqualTo(PluginProblem.Kind.DUPLICATE_PLUGIN_ID);
                assertThat(p.reason()).contains("good.jar").contains("good-copy.jar");
            });
        }
    }

    @Test
    void everythingTogetherRendersAReadableReport() throws IOException {
        try (PluginRuntime rt = startWith(jar.keySet().toArray(String[]::new))) {
            assertGoodPluginWorks(rt);
            assertThat(rt.extensions().ids(ExtensionKind.ADAPTER))
                    .containsExactlyInAnyOrder("good", "dup-own", "fat", "dependent");
            String text = rt.report().render();
            System.out.println(text);
            for (String id : List.of("good", "boom", "future", "other-good", "orphan", "fat", "dependent", "needs-future",
                    "too-new-dep", "unbound", "broken.jar")) {
                assertThat(text).contains(id);
            }
            assertThat(text).contains("START_FAILED").contains("REQUIRES_UNSATISFIED").contains("MISSING_DEPENDENCY")
                    .contains("DUPLICATE_EXTENSION_ID").contains("INVALID_DESCRIPTOR").contains("BUNDLES_PLATFORM_CLASSES")
                    .contains("EXTENSION_FAILED").contains("WRONG_DEPENDENCY_VERSION").contains("DEPENDENCY_NOT_STARTED")
                    .contains("adapter good");
        }
    }

    @Test
    void missingPluginsDirectoryMeansNoPlugins() {
        try (PluginRuntime rt = PluginRuntime.start(pluginsDir.resolve("does-not-exist"))) {
            assertThat(rt.report().plugins()).isEmpty();
            assertThat(rt.report().problems()).isEmpty();
            assertThat(rt.extensions().all()).isEmpty();
            assertThat(rt.report().render()).contains("no plugins found");
        }
    }
}
