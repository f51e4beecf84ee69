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
    private final String id;
    private final String suffixPrefix;
    private final String description;

    /**
     * @param id           the initializer id, also the plain {@code init_lora_weights} value it handles ({@code pissa})
     * @param suffixPrefix the prefix of its parameterised names, e.g. {@code pissa_niter_}, or null if it has none
     * @param description  one line for {@code peft4j plugins}
     */
    protected SvdInitializer(String id, String suffixPrefix, String description) {
        this.id = id;
        this.suffixPrefix = suffixPrefix;
        this.description = description;
    }

    @Override
    public final String id() {
        return id;
    }

    @Override
    public final String description() {
        return description;
    }

    /** The id, or any name starting with the suffix prefix: malformed suffixes too, so validate() can name them. */
    @Override
    public final boolean handles(String initName) {
        return id.equals(initName) || (suffixPrefix != null && initName != null && initName.startsWith(suffixPrefix));
    }

    /** {@code min(r, min(in, out))}: the slices stop at the SVD's size. */
    @Override
    public final int factorRank(String initName, SiteInfo site, int rank) {
        return Math.min(rank, Math.min(site.inFeatures(), site.outFeatures()));
    }

    /** The number of triplets to use: the factors' rows, i.e. {@link #factorRank} as the platform applied it. */
    protected static int triplets(LowRankSite site) {
        return (int) site.loraA().getShape().get(0);
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
