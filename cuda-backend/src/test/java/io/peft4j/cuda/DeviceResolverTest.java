package io.peft4j.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import org.junit.jupiter.api.Test;

/**
 * Runs against the real engine and CUDA runtime of the machine. On a machine without a usable GPU (the build
 * machine, or any machine with the default CPU native) CUDA must fail with a clear message and auto must fall
 * back to the CPU; on a machine with a usable GPU the GPU branches are checked instead.
 */
class DeviceResolverTest {

    private final DeviceResolver resolver = new DeviceResolver();

    @Test
    void cpuIsAlwaysTheCpu() {
        DeviceResolver.Resolution r = resolver.resolve(Device.CPU);
        assertThat(r.device()).isEqualTo(ai.djl.Device.cpu());
        assertThat(r.note()).isEqualTo("device cpu");
        assertThat(resolver.toDjl(Device.parse("cpu"))).isEqualTo(ai.djl.Device.cpu());
    }

    @Test
    void probeAgreesWithTheEngineAndTheClasspath() {
        GpuAvailability g = resolver.gpus();
        assertThat(g.engineGpus()).isEqualTo(ai.djl.engine.Engine.getInstance().getGpuCount());
        assertThat(g.engineName()).startsWith("PyTorch");
        // the test classpath carries exactly one PyTorch native jar: cpu by default, cu124 under -Pcuda
        assertThat(g.nativeFlavor()).isIn("cpu", "cu124");
        assertThat(g.describe()).contains("usable GPU(s)").contains(g.nativeFlavor());
    }

    @Test
    void cudaFailsClearlyWithoutAUsableGpu() {
        GpuAvailability g = resolver.gpus();
        Throwable t = catchThrowable(() -> resolver.resolve("cuda"));
        if (g.usable()) {
            assertThat(t).isNull();
            assertThat(resolver.resolve("cuda").device()).isEqualTo(ai.djl.Device.gpu(0));
            return;
        }
        assertThat(t).isInstanceOf(DeviceUnavailableException.class)
                .hasMessageContaining("'cuda:0'")
                .hasMessageContaining("-Pcuda")
                .hasMessageContaining("--device cpu");
        assertThat(((DeviceUnavailableException) t).requested()).isEqualTo(Device.cuda(0));
        if (g.driverGpus() == 0) {
            assertThat(t).hasMessageContaining("no CUDA device / driver was found");
        } else {
            assertThat(t).hasMessageContaining("CPU-only");
        }
    }

    @Test
    void cudaIndexBeyondTheDevicesFails() {
        int n = resolver.gpus().engineGpus();
        Throwable t = catchThrowable(() -> resolver.resolve(Device.cuda(n)));
        assertThat(t).isInstanceOf(DeviceUnavailableException.class).hasMessageContaining("'cuda:" + n + "'");
    }

    @Test
    void autoFallsBackToCpuAndSaysWhy() {
        GpuAvailability g = resolver.gpus();
        DeviceResolver.Resolution r = resolver.resolve(Device.AUTO);
        assertThat(r.requested()).isEqualTo(Device.AUTO);
        if (g.usable()) {
            assertThat(r.device()).isEqualTo(ai.djl.Device.gpu(0));
            assertThat(r.note()).startsWith("auto: using cuda:0");
        } else {
            assertThat(r.device()).isEqualTo(ai.djl.Device.cpu());
            assertThat(r.note()).startsWith("auto: using cpu - ").contains("-Pcuda");
        }
    }
}
