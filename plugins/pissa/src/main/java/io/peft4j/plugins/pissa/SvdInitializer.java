package io.peft4j.plugins.pissa;

import io.peft4j.api.ConfigException;
import io.peft4j.api.Initializer;
import io.peft4j.api.LowRankSite;
import io.peft4j.api.SiteInfo;

/**
 * An initializer that sets the factors from singular triplets of a {@code [out, in]} matrix (PiSSA, MiLoRA, LoftQ),
 * so it has at most {@code min(in, out)} of them: a rank above that gives factors with {@code min(in, out)}
 * rows/columns while the scaling keeps {@code r} (PEFT's slicing of {@code V[:, :r]}, {@code S[:r]}, {@code Uh[:r]}).
 * Public because milora and loftq extend it through their PF4J plugin dependency on pissa.
 */
public abstract class SvdInitializer implements Initializer {

    /** {@code min(r, min(in, out))}: the slices stop at the SVD's size. */
    @Override
    public final int factorRank(String initName, SiteInfo site, int rank) {
        return Math.min(rank, Math.min(site.inFeatures(), site.outFeatures()));
    }

    /** The number of triplets to use: the factors' rows, i.e. {@link #factorRank} as the platform applied it. */
    protected static int triplets(LowRankSite site) {
        return (int) site.loraA().getShape().get(0);
    }

    /** Whether {@code initName} is {@code id} or starts with {@code prefix} (malformed suffixes too, for validate). */
    protected static boolean idOrPrefixed(String initName, String id, String prefix) {
        return id.equals(initName) || (initName != null && initName.startsWith(prefix));
    }

    /**
     * The integer N of {@code <prefix>N}, written with at most as many digits as {@code max}.
     *
     * @throws ConfigException on {@code init_lora_weights}, "{@code "<initName>": expected <expected>}", unless
     *                         {@code min <= N <= max}
     */
    protected static int suffixNumber(String initName, String prefix, int min, int max, String expected) {
        String suffix = initName.startsWith(prefix) ? initName.substring(prefix.length()) : "";
        int digits = String.valueOf(max).length();
        if (!suffix.matches("\\d{1," + digits + "}") || Integer.parseInt(suffix) < min
                || Integer.parseInt(suffix) > max) {
            throw new ConfigException("init_lora_weights", "\"" + initName + "\": expected " + expected);
        }
        return Integer.parseInt(suffix);
    }
}
