package io.peft4j.it.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.peft4j.api.Adapter;
import io.peft4j.api.LinearAlgebra;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.it.support.Dist;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.pf4j.PluginWrapper;

/**
 * The installed plugins see only the plugin API of the platform: the SPI, DJL's API, Jackson, Guice, SLF4J and PF4J
 * come from the platform (the very same classes), and everything else - core, the CLI library, EJML, DJL's PyTorch
 * engine - is not loadable from a plugin's class loader.
 */
class PluginClassLoadingTest {

    private static PluginRuntime rt;

    @BeforeAll
    static void start() {
        rt = PluginRuntime.start(Dist.pluginsDir());
    }

    @AfterAll
    static void stop() {
        rt.close();
    }

    private static List<ClassLoader> pluginLoaders() {
        List<ClassLoader> loaders = rt.pluginManager().getStartedPlugins().stream()
                .map(PluginWrapper::getPluginClassLoader).toList();
        assertThat(loaders).hasSizeGreaterThan(10);
        return loaders;
    }

    @Test
    void theApiAndDjlAreThePlatformsOwnClasses() throws Exception {
        for (ClassLoader loader : pluginLoaders()) {
            assertThat(loader.loadClass(Adapter.class.getName())).isSameAs(Adapter.class);
            assertThat(loader.loadClass(LinearAlgebra.class.getName())).isSameAs(LinearAlgebra.class);
            assertThat(loader.loadClass("ai.djl.ndarray.NDArray")).isSameAs(ai.djl.ndarray.NDArray.class);
            assertThat(loader.loadClass("com.fasterxml.jackson.databind.JsonNode"))
                    .isSameAs(com.fasterxml.jackson.databind.JsonNode.class);
            assertThat(loader.loadClass("jakarta.inject.Inject")).isSameAs(jakarta.inject.Inject.class);
        }
    }

    @Test
    void platformInternalsAreNotVisibleToPlugins() {
        List<String> internals = List.of(
                PluginRuntime.class.getName(),
                "io.peft4j.core.model.LlamaModel",
                "io.peft4j.linalg.EjmlLinearAlgebra",
                "picocli.CommandLine",
                "org.ejml.data.DMatrixRMaj",
                "ai.djl.pytorch.engine.PtNDArray");
        for (ClassLoader loader : pluginLoaders()) {
            for (String name : internals) {
                assertThatThrownBy(() -> Class.forName(name, false, loader))
                        .as(name + " from " + loader)
                        .isInstanceOf(ClassNotFoundException.class);
            }
        }
    }

    @Test
    void extensionsGetThePlatformServicesInjected() {
        // The merging plugin's Merger takes LinearAlgebra by constructor injection (root injector binding).
        assertThat(rt.extensions().merger("weighted")).isPresent();
    }
}
