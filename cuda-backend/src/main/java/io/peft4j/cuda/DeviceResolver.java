package io.peft4j.cuda;

import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns a {@link Device} request into a DJL {@link ai.djl.Device}:
 * <ul>
 *   <li>{@code cpu}: always the CPU;</li>
 *   <li>{@code cuda[:N]}: GPU N if the engine can use it, otherwise a {@link DeviceUnavailableException} that says
 *       why (no device/driver, CPU-only PyTorch native - build with {@code -Pcuda} -, or index out of range);</li>
 *   <li>{@code auto}: GPU 0 if usable, else the CPU; the {@link Resolution#note() note} says which and why.</li>
 * </ul>
 * GPU availability is probed once per resolver, on first need (loading the DJL engine).
 */
public final class DeviceResolver {

    private static final Logger log = LoggerFactory.getLogger(DeviceResolver.class);

    private GpuAvailability gpus;

    /** A resolver that probes this JVM's engine and CUDA runtime. */
    public DeviceResolver() {
    }

    /**
     * The outcome of resolving a request.
     *
     * @param requested what was asked for
     * @param device    the DJL device to use
     * @param note      one line for the user: what was chosen and why (never empty)
     */
    public record Resolution(Device requested, ai.djl.Device device, String note) {
    }

    /** Resolves a request; see the class comment. */
    public Resolution resolve(Device requested) {
        Objects.requireNonNull(requested, "requested");
        return switch (requested.kind()) {
            case CPU -> new Resolution(requested, ai.djl.Device.cpu(), "device cpu");
            case CUDA -> resolveCuda(requested);
            case AUTO -> resolveAuto(requested);
        };
    }

    /** Parses and resolves, e.g. {@code resolve("auto")}. */
    public Resolution resolve(String device) {
        return resolve(Device.parse(device));
    }

    /** The DJL device for a request ({@link #resolve(Device)} without the note). */
    public ai.djl.Device toDjl(Device requested) {
        return resolve(requested).device();
    }

    /** The probed GPU availability (probing now if not yet done). */
    public synchronized GpuAvailability gpus() {
        if (gpus == null) {
            gpus = GpuAvailability.probe();
            log.debug("GPU probe: {}", gpus.describe());
        }
        return gpus;
    }

    private Resolution resolveCuda(Device requested) {
        GpuAvailability g = gpus();
        if (!g.usable()) {
            throw new DeviceUnavailableException(requested, "Device '" + requested + "' was requested but "
                    + whyNoGpu(g) + " Use --device cpu (or auto).");
        }
        if (requested.index() >= g.engineGpus()) {
            throw new DeviceUnavailableException(requested, "Device '" + requested + "' was requested but only "
                    + g.engineGpus() + " CUDA device(s) are available (cuda:0" + (g.engineGpus() > 1
                    ? " .. cuda:" + (g.engineGpus() - 1) : "") + ").");
        }
        return new Resolution(requested, ai.djl.Device.gpu(requested.index()),
                "device " + requested + " (" + g.engineGpus() + " CUDA device(s), CUDA " + g.cudaVersion() + ")");
    }

    private Resolution resolveAuto(Device requested) {
        GpuAvailability g = gpus();
        if (g.usable()) {
            String note = "auto: using cuda:0 (" + g.engineGpus() + " CUDA device(s) available)";
            log.info(note);
            return new Resolution(requested, ai.djl.Device.gpu(0), note);
        }
        String note = "auto: using cpu - " + whyNoGpu(g);
        log.info(note);
        return new Resolution(requested, ai.djl.Device.cpu(), note);
    }

    /** Why no GPU is usable, with what to do about it. */
    static String whyNoGpu(GpuAvailability g) {
        String flavour = g.nativeFlavor() == null ? "unknown" : "'" + g.nativeFlavor() + "'";
        if (g.driverGpus() > 0) {
            return g.driverGpus() + " CUDA device(s) are present (CUDA " + g.cudaVersion() + "), but the PyTorch "
                    + "native library in this build is CPU-only (flavour " + flavour + "): the CUDA native library "
                    + "requires building with -Pcuda (pytorch-native-cu124).";
        }
        return "no CUDA device / driver was found (" + g.engineName() + ", native flavour " + flavour + "). "
                + "Using a GPU needs an NVIDIA GPU with its driver, and the CUDA native library requires building "
                + "with -Pcuda (pytorch-native-cu124).";
    }
}
