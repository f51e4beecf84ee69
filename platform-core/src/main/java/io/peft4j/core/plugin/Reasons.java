package io.peft4j.core.plugin;

/** Turns exceptions into one-line reasons for reports. */
final class Reasons {

    private Reasons() {
    }

    /**
     * {@code SimpleName: message}, followed by the causes' messages when they add something
     * ({@code ... caused by IOException: ...}).
     */
    static String describe(Throwable t) {
        StringBuilder sb = new StringBuilder(one(t));
        Throwable seen = t;
        for (Throwable c = t.getCause(); c != null && c != seen; seen = c, c = c.getCause()) {
            String m = c.getMessage();
            if (m != null && t.getMessage() != null && t.getMessage().contains(m)) {
                continue;
            }
            sb.append("; caused by ").append(one(c));
        }
        return sb.toString();
    }

    private static String one(Throwable t) {
        String m = t.getMessage();
        String name = t.getClass().getSimpleName().isEmpty() ? t.getClass().getName() : t.getClass().getSimpleName();
        return m == null || m.isBlank() ? name : name + ": " + m.strip();
    }
}
