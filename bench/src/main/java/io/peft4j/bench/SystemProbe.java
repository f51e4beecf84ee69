package io.peft4j.bench;

import io.peft4j.cuda.DeviceStats;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

/**
 * Linux facts for the benchmark records: CPU description ({@code lscpu}), load, CPU time of this process and of the
 * whole machine (to estimate what other processes used), resident memory. Every reader degrades to "unknown" (NaN,
 * -1 or empty) off Linux instead of failing the benchmark.
 */
final class SystemProbe {
    /** Kernel clock ticks per second of {@code /proc/stat} (USER_HZ; 100 on every mainstream Linux build). */
    private static final double USER_HZ = 100.0;
    private static final Set<String> LSCPU_KEYS = Set.of("Model name", "CPU(s)", "Thread(s) per core",
            "Core(s) per socket", "Model", "CPU family", "Hypervisor vendor", "L2 cache", "L3 cache", "BogoMIPS",
            "Vendor ID");

    private SystemProbe() {
    }

    /** Selected {@code lscpu} fields as the peer records them, plus {@code avx512} and the SIMD flags. */
    static Map<String, Object> lscpu() {
        Map<String, Object> info = new LinkedHashMap<>();
        String out;
        try {
            Process p = new ProcessBuilder("lscpu").redirectErrorStream(true).start();
            out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor(10, TimeUnit.SECONDS);
        } catch (IOException e) {
            return info;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return info;
        }
        for (String line : out.split("\n")) {
            int i = line.indexOf(':');
            if (i < 0) {
                continue;
            }
            String k = line.substring(0, i).trim();
            String v = line.substring(i + 1).trim();
            if (LSCPU_KEYS.contains(k)) {
                info.put(k, v);
            }
            if (k.equals("Flags")) {
                Set<String> simd = new TreeSet<>();
                boolean avx512 = false;
                for (String f : v.split("\\s+")) {
                    avx512 |= f.startsWith("avx512");
                    if (f.startsWith("avx") || f.startsWith("amx") || f.startsWith("fma") || f.startsWith("sse4")) {
                        simd.add(f);
                    }
                }
                info.put("avx512", avx512);
                info.put("flags_simd", new ArrayList<>(simd));
            }
        }
        return info;
    }

    /** The 1-minute load average, or NaN. */
    static double loadavg1() {
        try {
            return Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+")[0]);
        } catch (IOException | RuntimeException e) {
            return Double.NaN;
        }
    }

    /** Busy CPU seconds of the whole machine since boot (user+nice+system+irq+softirq), or NaN. */
    static double machineBusySeconds() {
        try {
            String first = Files.readAllLines(Path.of("/proc/stat")).get(0);
            String[] f = first.trim().split("\\s+");
            long busy = Long.parseLong(f[1]) + Long.parseLong(f[2]) + Long.parseLong(f[3]) + Long.parseLong(f[6])
                    + Long.parseLong(f[7]);
            return busy / USER_HZ;
        } catch (IOException | RuntimeException e) {
            return Double.NaN;
        }
    }

    /** CPU seconds used by this process (all threads, native ones included). */
    static double processCpuSeconds() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            long ns = os.getProcessCpuTime();
            return ns < 0 ? Double.NaN : ns / 1e9;
        }
        return Double.NaN;
    }

    /** Peak resident set size (VmHWM) in MiB, or NaN. */
    static double rssPeakMib() {
        long b = DeviceStats.cpuProcess().peakBytes();
        return b < 0 ? Double.NaN : b / (1024.0 * 1024.0);
    }

    /**
     * Resets this process's peak RSS (VmHWM) to the current RSS (Linux {@code clear_refs} value 5), so a later
     * {@link #rssPeakMib} covers only what happened since. @return false where the kernel does not allow it
     */
    static boolean resetRssPeak() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
            return true;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** Current resident set size (VmRSS) in MiB, or NaN. */
    static double rssNowMib() {
        long b = DeviceStats.cpuProcess().usedBytes();
        return b < 0 ? Double.NaN : b / (1024.0 * 1024.0);
    }

    /** Loaded shared libraries whose path names BLAS, LAPACK, MKL, OpenMP or torch (from /proc/self/maps). */
    static List<String> mathLibraries() {
        Set<String> libs = new TreeSet<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
                String[] f = line.trim().split("\\s+");
                String p = f[f.length - 1];
                if (p.startsWith("/") && p.contains(".so") && (p.contains("blas") || p.contains("lapack")
                        || p.contains("mkl") || p.contains("omp") || p.contains("libtorch"))) {
                    libs.add(p);
                }
            }
        } catch (IOException | RuntimeException e) {
            // unknown
        }
        return new ArrayList<>(libs);
    }

    /** A CPU-time window: wall, own CPU and machine-wide busy time, to estimate the foreign CPU share. */
    static final class CpuWindow {
        private final long wall0 = System.nanoTime();
        private final double own0 = processCpuSeconds();
        private final double busy0 = machineBusySeconds();
        private final double load0 = loadavg1();

        /** Adds {@code foreign_cpu_frac}, {@code own_cpu_s}, {@code loadavg_before/after} and {@code wall_s}. */
        void record(Map<String, Object> rec) {
            double wall = (System.nanoTime() - wall0) / 1e9;
            double own = processCpuSeconds() - own0;
            double busy = machineBusySeconds() - busy0;
            int ncpu = Runtime.getRuntime().availableProcessors();
            double foreign = Math.max(0, busy - own) / (wall * ncpu);
            rec.put("foreign_cpu_frac", Double.isFinite(foreign) ? Json.round(foreign, 3) : null);
            rec.put("own_cpu_s", Json.round(own, 1));
            rec.put("loadavg_before", load0);
            rec.put("loadavg_after", loadavg1());
            rec.put("wall_s", Json.round(wall, 1));
        }
    }
}
