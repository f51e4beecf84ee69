package io.peft4j.core.plugin;

import io.peft4j.api.Adapter;
import java.nio.file.Path;
import java.util.Map;

/**
 * The plugin jars the runtime tests install, built for real by {@link PluginJarBuilder}. Sources are tiny on
 * purpose: they exercise discovery, injection, class loading and failure handling, not PEFT maths.
 */
final class TestPlugins {

    /** Instant bound (as a fixed Clock) in the tests' root injector; the good adapter's description shows it. */
    static final String FIXED_INSTANT = "2020-01-02T03:04:05Z";

    private TestPlugins() {
    }

    /**
     * Source of an {@link Adapter} extension. {@code ctorParams}/{@code ctorBody} let a test inject things;
     * {@code descriptionExpr} is a Java expression.
     */
    static String adapterSource(String pkg, String cls, String method, String fields, String ctor,
                                String descriptionExpr) {
        return """
                package %1$s;

                import io.peft4j.api.*;
                import java.util.*;
                import org.pf4j.Extension;

                @Extension
                public class %2$s implements Adapter {
                    %4$s
                    %5$s
                    @Override public AdapterDescriptor descriptor() {
                        return new AdapterDescriptor("%3$s", "TEST_%3$s", AdapterConfig.class,
                                EnumSet.noneOf(SiteKind.class), %6$s);
                    }
                    @Override public AdapterInstance create(String name, AdapterConfig config, List<SiteInfo> sites,
                                                            AdapterContext ctx) {
                        throw new UnsupportedOperationException("test fixture: never used to build adapters");
                    }
                }
                """.formatted(pkg, cls, method, fields, ctor, descriptionExpr);
    }

    /** An adapter with a no-argument constructor. */
    static String simpleAdapter(String pkg, String cls, String method) {
        return adapterSource(pkg, cls, method, "", "", "\"simple adapter " + method + "\"");
    }

    /**
     * "good": adapter {@code good} whose constructor injects the root's Clock and a String the plugin's own Guice
     * module binds; an initializer {@code good-init}; a Plugin class that is also a Guice module; a public API
     * class {@code good.GoodApi} other plugins can depend on.
     */
    static Path good(Path dir) {
        return PluginJarBuilder.plugin("good", "1.2.0")
                .requires(">=0.1.0")
                .provider("peft4j tests")
                .pluginClass("good.GoodPlugin")
                .source("good.GoodPlugin", """
                        package good;

                        import com.google.inject.Binder;
                        import com.google.inject.Module;
                        import com.google.inject.name.Names;
                        import org.pf4j.Plugin;

                        public class GoodPlugin extends Plugin implements Module {
                            @Override public void configure(Binder binder) {
                                binder.bind(String.class).annotatedWith(Names.named("suffix"))
                                      .toInstance("from-plugin-module");
                            }
                        }
                        """)
                .source("good.GoodApi", """
                        package good;

                        public final class GoodApi {
                            private GoodApi() { }
                            public static String greeting() { return "hello from good"; }
                        }
                        """)
                .source("good.GoodAdapter", adapterSource("good", "GoodAdapter", "good",
                        "private final java.time.Clock clock; private final String suffix;",
                        """
                        @jakarta.inject.Inject
                        public GoodAdapter(java.time.Clock clock, @com.google.inject.name.Named("suffix") String suffix) {
                            this.clock = clock; this.suffix = suffix;
                        }""",
                        "\"good adapter at \" + clock.instant() + \" \" + suffix"))
                .source("good.GoodInit", """
                        package good;

                        import io.peft4j.api.*;
                        import org.pf4j.Extension;

                        @Extension
                        public class GoodInit implements Initializer {
                            @Override public String id() { return "good-init"; }
                            @Override public String description() { return "good initializer"; }
                            @Override public boolean handles(String initName) { return initName.startsWith("good_"); }
                            @Override public void initialize(String initName, LowRankSite site, LinearBase base,
                                                             AdapterContext ctx) {
                                throw new UnsupportedOperationException("test fixture");
                            }
                        }
                        """)
                .build(dir);
    }

    /** A jar whose MANIFEST has a version but no Plugin-Id. */
    static Path brokenDescriptor(Path dir) {
        return PluginJarBuilder.jarWithManifest("broken.jar", Map.of("Plugin-Version", "1.0.0"))
                .source("broken.BrokenAdapter", simpleAdapter("broken", "BrokenAdapter", "broken"))
                .build(dir);
    }

    /** "boom": its Plugin.start() throws; contributes adapter {@code boom}. */
    static Path boom(Path dir) {
        return PluginJarBuilder.plugin("boom", "1.0.0")
                .pluginClass("boom.BoomPlugin")
                .source("boom.BoomPlugin", """
                        package boom;

                        public class BoomPlugin extends org.pf4j.Plugin {
                            @Override public void start() {
                                throw new IllegalStateException("boom: the database is missing");
                            }
                        }
                        """)
                .source("boom.BoomAdapter", simpleAdapter("boom", "BoomAdapter", "boom"))
                .build(dir);
    }

    /** "future": requires platform API >=2.0.0; contributes adapter {@code future}. */
    static Path future(Path dir) {
        return PluginJarBuilder.plugin("future", "3.0.0")
                .requires(">=2.0.0")
                .source("future.FutureAdapter", simpleAdapter("future", "FutureAdapter", "future"))
                .build(dir);
    }

    /**
     * "other-good": claims adapter method {@code good} too and also provides {@code dup-own}. Plugins register in
     * ascending id order, so "good" registers first and this one's {@code good} is rejected.
     */
    static Path dup(Path dir) {
        return PluginJarBuilder.plugin("other-good", "1.0.0")
                .source("dup.DupAdapter", simpleAdapter("dup", "DupAdapter", "good"))
                .source("dup.OwnAdapter", simpleAdapter("dup", "OwnAdapter", "dup-own"))
                .build(dir);
    }

    /** "orphan": depends on plugin {@code not-installed}. */
    static Path orphan(Path dir) {
        return PluginJarBuilder.plugin("orphan", "1.0.0")
                .dependencies("not-installed@>=1.0.0")
                .source("orphan.OrphanAdapter", simpleAdapter("orphan", "OrphanAdapter", "orphan"))
                .build(dir);
    }

    /** "fat": bundles its own copy of {@code io.peft4j.api.Adapter}; contributes adapter {@code fat}. */
    static Path fat(Path dir) {
        return PluginJarBuilder.plugin("fat", "1.0.0")
                .bundleClassCopy(Adapter.class)
                .source("fat.FatAdapter", simpleAdapter("fat", "FatAdapter", "fat"))
                .build(dir);
    }

    /** "dependent": depends on good >=1.0.0 and calls {@code good.GoodApi} from its adapter's description. */
    static Path dependent(Path dir, Path goodJar) {
        return PluginJarBuilder.plugin("dependent", "1.0.0")
                .dependencies("good@>=1.0.0")
                .classpath(goodJar)
                .source("dependent.DependentAdapter", adapterSource("dependent", "DependentAdapter", "dependent",
                        "", "", "\"dependent: \" + good.GoodApi.greeting()"))
                .build(dir);
    }

    /** "needs-future": depends on the (disabled) future plugin. */
    static Path needsFuture(Path dir) {
        return PluginJarBuilder.plugin("needs-future", "1.0.0")
                .dependencies("future")
                .source("needsfuture.NeedsFutureAdapter",
                        simpleAdapter("needsfuture", "NeedsFutureAdapter", "needs-future"))
                .build(dir);
    }

    /** "too-new-dep": depends on good >=5.0.0 (good is 1.2.0). */
    static Path tooNewDependency(Path dir) {
        return PluginJarBuilder.plugin("too-new-dep", "1.0.0")
                .dependencies("good@>=5.0.0")
                .source("toonew.TooNewAdapter", simpleAdapter("toonew", "TooNewAdapter", "too-new"))
                .build(dir);
    }

    /** "unbound": its adapter injects an interface nobody binds, so Guice cannot build the plugin's injector. */
    static Path unbound(Path dir) {
        return PluginJarBuilder.plugin("unbound", "1.0.0")
                .source("unbound.Missing", "package unbound; public interface Missing { }")
                .source("unbound.UnboundAdapter", adapterSource("unbound", "UnboundAdapter", "unbound",
                        "", "@jakarta.inject.Inject public UnboundAdapter(Missing missing) { }",
                        "\"never created\""))
                .build(dir);
    }
}
