package io.peft4j.cuda;

import ai.djl.engine.Engine;
import ai.djl.util.cuda.CudaUtils;
import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.util.Properties;

/**
 * What this JVM can do with CUDA, probed for real:
 *
 * @param engineGpus  GPUs the DJL engine can use ({@code Engine.getGpuCount()}: 0 unless the loaded PyTorch native
 *                    library was built with CUDA)
 * @param driverGpus  GPUs the CUDA runtime/driver reports ({@code CudaUtils.getGpuCount()}), independent of the
 *                    PyTorch build; 0 without driver or runtime
 * @param cudaVersion the CUDA runtime version DJL found (e.g. {@code 12.4}), or {@code null}
 * @param nativeFlavor the flavour of the PyTorch native jar on the classpath ({@code cpu}, {@code cu124} ...),
 *                    from {@code native/lib/pytorch.properties}; {@code null} if none is on the classpath
 * @param engineName  the DJL engine's name and version, e.g. {@code PyTorch 2.5.1}
 */
public record GpuAvailability(int engineGpus, int driverGpus, String cudaVersion, String nativeFlavor,
                              String engineName) {

    /** Whether at least one GPU is usable for tensors. */
    public boolean usable() {
        return engineGpus > 0;
    }

    /** Probes the default DJL engine, the CUDA runtime and the classpath. */
    public static GpuAvailability probe() {
        Engine engine = Engine.getInstance();
        int driver;
        String version = null;
        try {
            driver = CudaUtils.getGpuCount();
            if (driver > 0) {
                version = CudaUtils.getCudaVersionString();
            }
        } catch (RuntimeException | LinkageError e) {
            driver = 0; // no libcudart on this host
        }
        return new GpuAvailability(engine.getGpuCount(), driver, version, readNativeFlavor(),
                engine.getEngineName() + " " + engine.getVersion());
    }

    /** The {@code flavor} in the first {@code native/lib/pytorch.properties} on the classpath, or {@code null}. */
    static String readNativeFlavor() {
        URL url = GpuAvailability.class.getClassLoader().getResource("native/lib/pytorch.properties");
        if (url == null) {
            return null;
        }
        try (InputStream in = url.openStream()) {
            Properties p = new Properties();
            p.load(in);
            return p.getProperty("flavor");
        } catch (IOException e) {
            return null;
        }
    }

    /** One line for logs and error messages. */
    public String describe() {
        return engineName + ": " + engineGpus + " usable GPU(s); CUDA driver/runtime: "
                + (driverGpus > 0 ? driverGpus + " device(s), CUDA " + cudaVersion : "no device found")
                + "; PyTorch native flavour: " + (nativeFlavor == null ? "unknown" : nativeFlavor);
    }
}
