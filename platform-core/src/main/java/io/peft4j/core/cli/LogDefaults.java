package io.peft4j.core.cli;

import java.util.Locale;

/**
 * Quieter defaults for two third-party loggers, set as slf4j-simple system properties (read when each logger is
 * created, so before DJL's engine and PF4J start). An explicit {@code -Dorg.slf4j.simpleLogger.log.<name>=...} or a
 * debug/trace default level ({@code PEFT4J_JAVA_OPTS=-Dorg.slf4j.simpleLogger.defaultLogLevel=debug}) wins.
 * <ul>
 *   <li>DJL's "Failed to detect GPU count" warning (several per run on a machine without a usable GPU): only when
 *       a GPU was asked for ({@link #gpuRequested});</li>
 *   <li>PF4J's own error lines with stack traces for a broken plugin jar: only at debug level - peft4j's report
 *       (which plugin, what failed, why) is printed either way.</li>
 * </ul>
 */
final class LogDefaults {
    static final String LOGGER_PREFIX = "org.slf4j.simpleLogger.log.";
    static final String GPU_PROBE_LOGGER = LOGGER_PREFIX + "ai.djl.util.cuda.CudaUtils";
    static final String PF4J_LOGGER = LOGGER_PREFIX + "org.pf4j";
    private static boolean gpuProbeQuietedHere;

    private LogDefaults() {
    }

    static synchronized void apply() {
        if (debugLevel()) {
            return;
        }
        if (System.getProperty(GPU_PROBE_LOGGER) == null) {
            System.setProperty(GPU_PROBE_LOGGER, "error");
            gpuProbeQuietedHere = true;
        }
        if (System.getProperty(PF4J_LOGGER) == null) {
            System.setProperty(PF4J_LOGGER, "off");
        }
    }

    /** A GPU was asked for (device cuda or auto): DJL's GPU detection messages are shown again. */
    static synchronized void gpuRequested() {
        if (gpuProbeQuietedHere) {
            System.clearProperty(GPU_PROBE_LOGGER);
            gpuProbeQuietedHere = false;
        }
    }

    private static boolean debugLevel() {
        String level = System.getProperty("org.slf4j.simpleLogger.defaultLogLevel", "info").toLowerCase(Locale.ROOT);
        return level.equals("debug") || level.equals("trace");
    }
}
