package io.peft4j.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

class DeviceStatsTest {

    @Test
    void cpuStatsComeFromProcSelfStatus() throws Exception {
        Assumptions.assumeTrue(Files.isReadable(Path.of("/proc/self/status")), "Linux /proc required");
        DeviceStats s = DeviceStats.of(ai.djl.Device.cpu());
        assertThat(s.device()).isEqualTo(ai.djl.Device.cpu().toString());
        assertThat(s.usedBytes()).isPositive();
        // Within one read of /proc/self/status the kernel reports VmHWM = max(recorded peak, current RSS).
        // (Across two reads it may not: the recorded peak is only refreshed at unmap time, so a later VmHWM can be
        // below an earlier VmRSS - CI saw exactly that.)
        assertThat(s.peakBytes()).isGreaterThanOrEqualTo(s.usedBytes());
        assertThat(s.totalBytes()).isGreaterThan(s.usedBytes());
        assertThat(s.format()).startsWith(s.device() + ": used ").contains("MiB");

        // The same numbers as the kernel's own text (the process keeps running, so compare loosely: same order)
        String status = Files.readString(Path.of("/proc/self/status"));
        long rssNow = DeviceStats.kiloBytesField(status, "VmRSS");
        assertThat(rssNow).isBetween(s.usedBytes() / 2, s.usedBytes() * 2);
    }

    @Test
    void parsesProcFieldsInKiloBytes() {
        String text = "Name:\tjava\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nThreads:\t42\n";
        assertThat(DeviceStats.kiloBytesField(text, "VmRSS")).isEqualTo(102400L * 1024);
        assertThat(DeviceStats.kiloBytesField(text, "VmHWM")).isEqualTo(204800L * 1024);
        assertThat(DeviceStats.kiloBytesField(text, "Threads")).isEqualTo(42);
        assertThat(DeviceStats.kiloBytesField(text, "VmSwap")).isEqualTo(-1);
    }

    @Test
    void formatsSizes() {
        assertThat(DeviceStats.human(-1)).isEqualTo("n/a");
        assertThat(DeviceStats.human(512)).isEqualTo("512 B");
        assertThat(DeviceStats.human(1536)).isEqualTo("1.5 KiB");
        assertThat(DeviceStats.human(3L * 1024 * 1024 * 1024)).isEqualTo("3.0 GiB");
    }
}
