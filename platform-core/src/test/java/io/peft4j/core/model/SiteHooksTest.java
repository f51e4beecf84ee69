package io.peft4j.core.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import io.peft4j.api.AttentionKvSiteModule;
import io.peft4j.api.EmbeddingSiteModule;
import io.peft4j.api.ForwardContext;
import io.peft4j.api.LinearBase;
import io.peft4j.api.LinearSiteModule;
import io.peft4j.api.SiteInfo;
import io.peft4j.api.SiteKind;
import io.peft4j.api.SublayerSiteModule;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The non-linear hook points, checked with hand-written modules whose effect is known exactly. */
class SiteHooksTest {
    static final long[] ALL = {1, 403, 407, 261, 378, 432, 383};
    NDManager root;
    LlamaModel model;

    @BeforeEach
    void load() {
        root = NDManager.newBaseManager();
        model = LlamaModel.load(BundledModel.stories260K(), root);
    }

    @AfterEach
    void close() {
        model.close();
        root.close();
    }

    SiteInfo site(SiteKind kind, String path) {
        return model.sites().stream().filter(s -> s.kind() == kind && s.path().equals(path)).findFirst().orElseThrow();
    }

    float[] run(NDManager m, long[] ids, KvCache cache) {
        return model.forward(m.create(ids, new Shape(1, ids.length)), null, cache, PlatformForwardContext.eval(m))
                .toFloatArray();
    }

    static void assertClose(float[] actual, float[] expected, int expectedOffset) {
        for (int i = 0; i < actual.length; i++) {
            assertThat((double) actual[i]).as("logit %d", i).isCloseTo(expected[expectedOffset + i], within(1e-4));
        }
    }

    record Sublayer(SiteInfo site, boolean zero) implements SublayerSiteModule {
        public NDArray forward(NDArray out, NDArray in, ForwardContext ctx) {
            return zero ? out.mul(0f) : out;
        }
    }

    @Test
    void sublayerModulesReplaceTheOutputBeforeTheResidualAdd() {
        long[] ids = {1, 403, 407};
        try (NDManager m = root.newSubManager()) {
            float[] base = run(m, ids, null);
            for (int l = 0; l < 5; l++) {
                model.attach("zero", new Sublayer(site(SiteKind.SUBLAYER_OUTPUT, "model.layers." + l + ".self_attn"), true));
                model.attach("zero", new Sublayer(site(SiteKind.SUBLAYER_OUTPUT, "model.layers." + l + ".mlp"), true));
            }
            model.attach("same", new Sublayer(site(SiteKind.SUBLAYER_OUTPUT, "model.layers.2.mlp"), false));
            model.setActiveAdapters(List.of("same"));
            assertClose(run(m, ids, null), base, 0);
            model.setActiveAdapters(List.of("zero"));
            // Every sub-layer contributes nothing: logits = lm_head(rmsnorm(embedding)).
            NDArray e = model.baseTensors().get("model.embed_tokens.weight");
            NDArray x = e.get(new NDIndex("{}", m.create(ids)));
            NDArray n = x.mul(x.square().mean(new int[] {1}, true).add(1e-5f).pow(-0.5f))
                    .mul(model.baseTensors().get("model.norm.weight"));
            assertClose(run(m, ids, null), n.matMul(e.transpose()).toFloatArray(), 0);
            assertThat(model.hooks().detachAll("zero")).isEqualTo(10);
            assertClose(run(m, ids, null), base, 0);
        }
    }

    /** Prefix = the cached keys/values of the first tokens: must reproduce the full pass on the rest. */
    record Prefix(SiteInfo site, KvCache cache, int layer) implements AttentionKvSiteModule {
        public int numVirtualTokens() {
            return cache.length();
        }

        public NDList prefixKeyValues(int batch, ForwardContext ctx) {
            return new NDList(cache.keys(layer), cache.values(layer));
        }
    }

    @Test
    void attentionKvPrefixesActLikePastTokens() {
        try (NDManager m = root.newSubManager(); KvCache head = model.newCache(); KvCache rest = model.newCache()) {
            float[] full = run(m, ALL, null);
            run(m, new long[] {ALL[0], ALL[1]}, head);
            for (int l = 0; l < 5; l++) {
                model.attach("prefix", new Prefix(site(SiteKind.ATTENTION_KV, "model.layers." + l + ".self_attn"),
                        head, l));
            }
            model.setActiveAdapters(List.of("prefix"));
            long[] tail = {ALL[2], ALL[3], ALL[4]};
            assertClose(run(m, tail, null), full, 2 * 512);
            // With a cache of the real tokens and an explicit all-ones mask, continuing step by step.
            NDArray tailArr = m.create(tail, new Shape(1, 3));
            NDArray mask = m.ones(new Shape(1, 3), ai.djl.ndarray.types.DataType.INT64);
            float[] a = model.forward(tailArr, mask, rest, PlatformForwardContext.eval(m)).toFloatArray();
            assertClose(a, full, 2 * 512);
            float[] b = run(m, new long[] {ALL[5]}, rest);
            assertClose(b, full, 5 * 512);
        }
    }

    /** Prepends the embeddings of fixed tokens. */
    record Prompt(SiteInfo site, NDArray table, long[] tokens) implements EmbeddingSiteModule {
        public int numVirtualTokens() {
            return tokens.length;
        }

        public NDArray prepend(NDArray embeds, ForwardContext ctx) {
            NDArray v = table.get(new NDIndex("{}", ctx.manager().create(tokens))).expandDims(0);
            return v.concat(embeds, 1);
        }
    }

    @Test
    void embeddingModulesPrependVirtualTokens() {
        try (NDManager m = root.newSubManager(); KvCache cache = model.newCache()) {
            float[] full = run(m, ALL, null);
            model.attach("prompt", new Prompt(site(SiteKind.INPUT_EMBEDDING, "model.embed_tokens"),
                    model.baseTensors().get("model.embed_tokens.weight"), new long[] {ALL[0], ALL[1]}));
            model.setActiveAdapters(List.of("prompt"));
            long[] tail = {ALL[2], ALL[3], ALL[4]};
            float[] out = run(m, tail, null);
            assertThat(out).hasSize(3 * 512);   // virtual positions are dropped from the logits
            assertClose(out, full, 2 * 512);
            // Cached: the virtual tokens go into the cache once; the caller's mask covers real tokens only.
            NDArray mask = m.ones(new Shape(1, 3), ai.djl.ndarray.types.DataType.INT64);
            assertClose(model.forward(m.create(tail, new Shape(1, 3)), mask, cache, PlatformForwardContext.eval(m))
                    .toFloatArray(), full, 2 * 512);
            assertThat(cache.length()).isEqualTo(5);
            assertThat(cache.virtualTokens()).isEqualTo(2);
            NDArray mask2 = m.ones(new Shape(1, 4), ai.djl.ndarray.types.DataType.INT64);
            assertClose(model.forward(m.create(new long[] {ALL[5]}, new Shape(1, 1)), mask2, cache,
                    PlatformForwardContext.eval(m)).toFloatArray(), full, 5 * 512);
        }
    }

    @Test
    void attachValidatesKindAndPath() {
        SiteInfo wrong = new SiteInfo("model.layers.9.mlp", SiteKind.SUBLAYER_OUTPUT, 64, 64, 9, false);
        assertThatThrownBy(() -> model.attach("a", new Sublayer(wrong, true)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("model.layers.9.mlp");
        SiteInfo ok = site(SiteKind.SUBLAYER_OUTPUT, "model.layers.0.mlp");
        model.attach("a", new Sublayer(ok, true));
        assertThatThrownBy(() -> model.attach("a", new Sublayer(ok, true))).isInstanceOf(IllegalStateException.class);
    }

    /** y + x A^T B^T with trainable A, B. */
    record LowRank(SiteInfo site, NDArray a, NDArray b) implements LinearSiteModule {
        public NDArray forward(NDArray x, NDArray result, LinearBase base, ForwardContext ctx) {
            return result.add(x.matMul(a.transpose()).matMul(b.transpose()));
        }

        public Optional<NDArray> deltaWeight(LinearBase base) {
            return Optional.of(b.matMul(a));
        }

        public void merge(LinearBase base) {
            throw new UnsupportedOperationException();
        }

        public void unmerge(LinearBase base) {
            throw new UnsupportedOperationException();
        }
    }

    @Test
    void trainsUnderAutogradInsideNDScope() {
        SiteInfo q = model.linear("model.layers.1.self_attn.q_proj").site();
        NDManager params = root.newSubManager();
        Engine.getInstance().setRandomSeed(7);
        NDArray a = params.randomNormal(0f, 0.1f, new Shape(4, 64), ai.djl.ndarray.types.DataType.FLOAT32);
        NDArray b = params.zeros(new Shape(64, 4));
        a.setRequiresGradient(true);
        b.setRequiresGradient(true);
        model.attach("lr", new LowRank(q, a, b));
        model.setActiveAdapters(List.of("lr"));
        int before = -1;
        for (int step = 0; step < 4; step++) {
            if (step == 1) {
                before = root.getManagedArrays().size();   // after the lazily built RoPE and mask tables
            }
            try (NDManager m = root.newSubManager();
                 NDScope scope = new NDScope();
                 GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray ids = m.create(ALL, new Shape(1, ALL.length));
                NDArray logits = model.forward(ids, null, null, new PlatformForwardContext(true, m));
                NDArray labels = m.create(new long[] {403, 407, 261, 378, 432, 383, 286}, new Shape(1, 7, 1));
                NDArray loss = logits.logSoftmax(-1).gather(labels, -1).neg().mean();
                gc.backward(loss);
            }
            try (NDScope s = new NDScope(); NDArray gb = b.getGradient(); NDArray ga = a.getGradient()) {
                assertThat(gb.abs().sum().getFloat()).isGreaterThan(0f);
                if (step == 0) {
                    assertThat(ga.abs().sum().getFloat()).isEqualTo(0f);   // B = 0 blocks A's gradient, as in LoRA
                } else {
                    assertThat(ga.abs().sum().getFloat()).isGreaterThan(0f);
                }
                b.subi(gb.mul(0.1f));
                gb.muli(0);
                ga.muli(0);
            }
        }
        assertThat(root.getManagedArrays().size()).isEqualTo(before);
        params.close();
    }
}
