package io.peft4j.core.plugin;

import io.peft4j.api.Adapter;
import io.peft4j.api.Initializer;
import io.peft4j.api.Merger;
import io.peft4j.api.OptimizerPolicy;
import io.peft4j.api.Quantizer;
import io.peft4j.api.RankAllocator;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;
import org.pf4j.ExtensionPoint;

/**
 * One of the platform's extension points, with how to read an extension's id (unique per kind among installed
 * plugins) and its one-line description.
 *
 * @param <T> the extension point interface
 */
public final class ExtensionKind<T extends ExtensionPoint> {

    public static final ExtensionKind<Adapter> ADAPTER =
            new ExtensionKind<>("adapter", Adapter.class, Adapter::method, Adapter::description);
    public static final ExtensionKind<Initializer> INITIALIZER =
            new ExtensionKind<>("initializer", Initializer.class, Initializer::id, Initializer::description);
    public static final ExtensionKind<RankAllocator<?>> RANK_ALLOCATOR =
            new ExtensionKind<>("rank-allocator", generic(RankAllocator.class), RankAllocator::id,
                    RankAllocator::description);
    public static final ExtensionKind<Quantizer<?>> QUANTIZER =
            new ExtensionKind<>("quantizer", generic(Quantizer.class), Quantizer::id, Quantizer::description);
    public static final ExtensionKind<Merger<?>> MERGER =
            new ExtensionKind<>("merger", generic(Merger.class), Merger::id, Merger::description);
    public static final ExtensionKind<OptimizerPolicy<?>> OPTIMIZER_POLICY =
            new ExtensionKind<>("optimizer-policy", generic(OptimizerPolicy.class), OptimizerPolicy::id,
                    OptimizerPolicy::description);

    /** Every kind, in the order the runtime registers and reports them. */
    public static final List<ExtensionKind<?>> ALL =
            List.of(ADAPTER, INITIALIZER, RANK_ALLOCATOR, QUANTIZER, MERGER, OPTIMIZER_POLICY);

    private final String label;
    private final Class<T> type;
    private final Function<T, String> id;
    private final Function<T, String> description;

    private ExtensionKind(String label, Class<T> type, Function<T, String> id, Function<T, String> description) {
        this.label = label;
        this.type = type;
        this.id = id;
        this.description = description;
    }

    /** {@code Quantizer.class} as {@code Class<Quantizer<?>>}: the erasure is the same class. */
    @SuppressWarnings("unchecked")
    private static <T> Class<T> generic(Class<?> raw) {
        return (Class<T>) raw;
    }

    /** Short name used in reports, e.g. {@code adapter}. */
    public String label() {
        return label;
    }

    /** The extension point interface. */
    public Class<T> type() {
        return type;
    }

    /** The extension's id (for adapters, {@link Adapter#method()}). Calls plugin code: may throw. */
    public String idOf(T extension) {
        return id.apply(Objects.requireNonNull(extension, "extension"));
    }

    /** The extension's one-line description. Calls plugin code: may throw. */
    public String describe(T extension) {
        return description.apply(Objects.requireNonNull(extension, "extension"));
    }

    @Override
    public String toString() {
        return label;
    }
}
