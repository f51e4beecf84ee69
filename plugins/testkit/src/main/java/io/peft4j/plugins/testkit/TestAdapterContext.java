package io.peft4j.plugins.testkit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import io.peft4j.api.AdapterContext;
import io.peft4j.api.Initializer;
import io.peft4j.api.LinearAlgebra;
import io.peft4j.api.LinearBase;
import io.peft4j.api.ModelShape;
import io.peft4j.api.SiteInfo;
import io.peft4j.linalg.EjmlLinearAlgebra;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * The creation context a plugin sees, for unit tests. Starts minimal (a manager, {@link #DEFAULT_SHAPE}, seed 0,
 * no layers, initializers, tokenizer or embeddings) and is filled in with the {@code with...} methods:
 * <ul>
 *   <li>{@link #withLayers}: {@link #linear} answers these {@link TestLinearBase}s by path (any other path is an
 *       error) and {@link #sites()} lists their sites in order;</li>
 *   <li>{@link #withInitializers}: {@link #initializer} returns the first that {@code handles(name)};</li>
 *   <li>{@link #withTokenizer} / {@link #withEmbeddings}: {@link #embed} gathers rows {@code table[ids]}.</li>
 * </ul>
 */
public final class TestAdapterContext implements AdapterContext {
    /** hidden 16, 1 layer, 1 head, 1 kv head, head dim 16, intermediate 32, vocab 64. */
    public static final ModelShape DEFAULT_SHAPE = new ModelShape(16, 1, 1, 1, 16, 32, 64);

    private final NDManager manager;
    private final Map<String, TestLinearBase> layers = new LinkedHashMap<>();
    private final List<Initializer> initializers = new ArrayList<>();
    private ModelShape shape = DEFAULT_SHAPE;
    private Function<String, long[]> tokenizer;
    private NDArray embeddings;

    public TestAdapterContext(NDManager manager) {
        this.manager = manager;
    }

    /** A context over linear layers, with optional initializers (the usual shape for LoRA-family tests). */
    public static TestAdapterContext overLayers(NDManager manager, List<Initializer> initializers,
            TestLinearBase... layers) {
        return new TestAdapterContext(manager).withInitializers(initializers).withLayers(layers);
    }

    public TestAdapterContext withModelShape(ModelShape modelShape) {
        this.shape = modelShape;
        return this;
    }

    public TestAdapterContext withLayers(TestLinearBase... linears) {
        for (TestLinearBase l : linears) {
            layers.put(l.site().path(), l);
        }
        return this;
    }

    public TestAdapterContext withInitializers(List<Initializer> inits) {
        initializers.addAll(inits);
        return this;
    }

    /** {@code null} leaves the context without a tokenizer. */
    public TestAdapterContext withTokenizer(Function<String, long[]> tok) {
        this.tokenizer = tok;
        return this;
    }

    /** The embedding table {@code [vocab, hidden]} that {@link #embed} reads; {@code null} for none. */
    public TestAdapterContext withEmbeddings(NDArray table) {
        this.embeddings = table;
        return this;
    }

    /** The sites of the layers given to {@link #withLayers}, in order. */
    public List<SiteInfo> sites() {
        return layers.values().stream().map(TestLinearBase::site).toList();
    }

    @Override
    public LinearAlgebra linearAlgebra() {
        return EjmlLinearAlgebra.INSTANCE;
    }

    @Override
    public NDManager manager() {
        return manager;
    }

    @Override
    public ModelShape modelShape() {
        return shape;
    }

    @Override
    public LinearBase linear(String path) {
        TestLinearBase l = layers.get(path);
        if (l == null) {
            throw new IllegalArgumentException("no test linear layer at " + path + "; this context has "
                    + layers.keySet());
        }
        return l;
    }

    @Override
    public Optional<Initializer> initializer(String initName) {
        return initializers.stream().filter(i -> i.handles(initName)).findFirst();
    }

    @Override
    public long seed() {
        return 0;
    }

    @Override
    public Optional<Function<String, long[]>> tokenizer() {
        return Optional.ofNullable(tokenizer);
    }

    @Override
    public NDArray embed(long[] tokenIds) {
        if (embeddings == null) {
            throw new UnsupportedOperationException("this test context has no embedding table");
        }
        return embeddings.get(new NDIndex("{}", manager.create(tokenIds)));
    }
}
