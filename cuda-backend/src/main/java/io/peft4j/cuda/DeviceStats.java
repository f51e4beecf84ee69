package io.peft4j.cuda;

import ai.djl.util.cuda.CudaUtils;
import java.io.IOException;
import java.lang.management.MemoryUsage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Memory statistics of a device, for logs and run reports. Values are bytes; {@code -1} means unknown.
 *
 * <ul>
 *   <li>CPU: this process's resident set size ({@code VmRSS}) and its peak ({@code VmHWM}) from
 *       {@code /proc/self/status} (Linux; unknown elsewhere), total = {@code MemTotal} of {@code /proc/meminfo}.
 *       Native tensor memory (libtorch) is included, the JVM heap only as far as it is resident.</li>
 *   <li>CUDA: {@code CudaUtils.getGpuMemory(device)}: memory in use on the whole device (all processes, as
 *       {@code cudaMemGetInfo} reports it) and its total; no peak.</li>
 * </ul>
 *
 * @param device     the DJL device name, e.g. {@code cpu()} / {@code gpu(0)}
 * @param usedBytes  resident (CPU) or in-use device (CUDA) memory
 * @param peakBytes  peak resident memory of this process (CPU only)
 * @param totalBytes physical memory of the machine or device
 * @param source     where the numbers come from
 */
public record DeviceStats(String device, long usedBytes, long peakBytes, long totalBytes, String source) {

    private static final Path PROC_STATUS = Path.of("/proc/self/status");
    private static final Path PROC_MEMINFO = Path.of("/proc/meminfo");

    /** Statistics of {@code device}: CUDA memory for a GPU, this process's memory for the CPU. */
    public static DeviceStats of(ai.djl.Device device) {
        if (device.isGpu()) {
            return cuda(device);
        }
        return cpuProcess();
    }

    /** This process's resident memory (VmRSS) and peak (VmHWM); {@code -1} where {@code /proc} is unavailable. */
    public static DeviceStats cpuProcess() {
        long total = -1;
        try {
            if (Files.isReadable(PROC_MEMINFO)) {
                total = kiloBytesField(Files.readString(PROC_MEMINFO), "MemTotal");
            }
            if (Files.isReadable(PROC_STATUS)) {
                String status = Files.readString(PROC_STATUS);
                return new DeviceStats(ai.djl.Device.cpu().toString(), kiloBytesField(status, "VmRSS"),
                        kiloBytesField(status, "VmHWM"), total, "/proc/self/status VmRSS, VmHWM");
            }
        } catch (IOException e) {
            // fall through: unknown
        }
        return new DeviceStats(ai.djl.Device.cpu().toString(), -1, -1, total, "unavailable (no /proc)");
    }

    private static DeviceStats cuda(ai.djl.Device device) {
        MemoryUsage m = CudaUtils.getGpuMemory(device);
        return new DeviceStats(device.toString(), m.getUsed(), -1, m.getMax(), "CUDA cudaMemGetInfo (device-wide)");
    }

    /**
     * The value in bytes of a {@code Name:  1234 kB} line of a {@code /proc} file; {@code -1} if absent.
     */
    static long kiloBytesField(String procText, String name) {
        for (String line : procText.split("\n")) {
            if (line.startsWith(name + ":")) {
                String[] parts = line.substring(name.length() + 1).trim().split("\\s+");
                long v = Long.parseLong(parts[0]);
                boolean kb = parts.length > 1 && parts[1].equalsIgnoreCase("kB");
                return kb ? v * 1024 : v;
            }
        }
        return -1;
    }

    /** E.g. {@code cpu(): used 512.0 MiB, peak 600.0 MiB, total 15.5 GiB}. */
    public String format() {
        return device + ": used " + human(usedBytes) + ", peak " + human(peakBytes) + ", total " + human(totalBytes);
    }

    static String human(long bytes) {
        if (bytes < 0) {
            return "n/a";
        }
        if (bytes < 1024) {
            return bytes + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }
}
