package io.peft4j.cuda;

import java.util.Locale;
import java.util.Objects;

/**
 * The compute device a user asked for: {@code cpu}, {@code cuda} (= {@code cuda:0}), {@code cuda:N} or {@code auto}
 * (a GPU if one is usable, else the CPU). A request only; {@link DeviceResolver} turns it into a DJL device.
 *
 * @param kind  what was asked for
 * @param index the CUDA device ordinal ({@code >= 0}) for {@link Kind#CUDA}; {@code -1} otherwise
 */
public record Device(Kind kind, int index) {

    /** What the user asked for. */
    public enum Kind { CPU, CUDA, AUTO }

    /** The accepted spellings, for error messages. */
    public static final String ACCEPTED = "cpu, cuda, cuda:N (N >= 0) or auto";

    public static final Device CPU = new Device(Kind.CPU, -1);
    public static final Device AUTO = new Device(Kind.AUTO, -1);

    public Device {
        Objects.requireNonNull(kind, "kind");
        if (kind == Kind.CUDA && index < 0) {
            throw new IllegalArgumentException("CUDA device index must be >= 0, got " + index);
        }
        if (kind != Kind.CUDA && index != -1) {
            throw new IllegalArgumentException(kind + " takes no device index, got " + index);
        }
    }

    /** {@code cuda:index}. */
    public static Device cuda(int index) {
        return new Device(Kind.CUDA, index);
    }

    /**
     * Parses {@code cpu | cuda | cuda:N | auto} (case-insensitive, surrounding spaces ignored).
     *
     * @throws IllegalArgumentException naming the value and the accepted forms
     */
    public static Device parse(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("Device is empty; expected " + ACCEPTED);
        }
        String s = text.strip().toLowerCase(Locale.ROOT);
        switch (s) {
            case "cpu":
                return CPU;
            case "auto":
                return AUTO;
            case "cuda":
                return cuda(0);
            default:
                break;
        }
        if (s.startsWith("cuda:")) {
            String n = s.substring("cuda:".length());
            if (!n.isEmpty() && n.length() <= 4 && n.chars().allMatch(c -> c >= '0' && c <= '9')) {
                return cuda(Integer.parseInt(n));
            }
            throw new IllegalArgumentException("Invalid device '" + text + "': the CUDA device index must be a "
                    + "non-negative integer (e.g. cuda:0); expected " + ACCEPTED);
        }
        throw new IllegalArgumentException("Invalid device '" + text + "'; expected " + ACCEPTED);
    }

    /** The canonical spelling: {@code cpu}, {@code cuda:N} or {@code auto}; {@link #parse} reads it back. */
    @Override
    public String toString() {
        return switch (kind) {
            case CPU -> "cpu";
            case AUTO -> "auto";
            case CUDA -> "cuda:" + index;
        };
    }
}
