package io.peft4j.core.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.BaseWeight;
import io.peft4j.api.ForwardContext;
import io.peft4j.api.LinearBase;
import io.peft4j.api.LinearSiteModule;
import io.peft4j.api.QuantizedWeight;
import io.peft4j.api.SiteInfo;
import io.peft4j.api.SiteKind;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BiFunction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Who owns what {@link AdaptableLinear#weight()} hands out, and {@link AdaptableLinear#output} reusing the base
 * output of the call in progress. The quantized base is a stand-in that rounds to multiples of 0.5 and counts its
 * dequantizations.
 */
class AdaptableLinearLeaseTest {
    static final SiteInfo SITE = new SiteInfo("model.layers.0.self_attn.q_proj", SiteKind.LINEAR, 3, 2, 0, true);
    static final float[] W = {0.2f, 0.74f, -1.3f, 1.0f, 0.26f, -0.24f};
    static final float[] W_ROUNDED = {0f, 0.5f, -1.5f, 1.0f, 0.5f, 0f};   // round(2w)/2, by hand
    static final float[] BIAS = {0.1f, -0.2f};
    NDManager m;

    @BeforeEach
    void open() {
        m = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        m.close();
    }

    /** Rounds to multiples of 0.5; {@code dequantize} makes a fresh copy and counts. */
    static final class Halves implements QuantizedWeight {
        final float[] values;
        int dequantized;
        boolean closed;

        Halves(float[] w) {
            values = new float[w.length];
            for (int i = 0; i < w.length; i++) {
                values[i] = Math.round(w[i] * 2) / 2f;
            }
        }

        public long[] shape() {
            return new long[] {2, 3};
        }

        public NDArray dequantize(NDManager manager) {
            dequantized++;
            return manager.create(values, new Shape(2, 3));
        }

        public long storageBytes() {
            return values.length * 4L;
        }

        public Map<String, NDArray> stateDict(String prefix) {
            return Map.of();
        }

        public void close() {
            closed = true;
        }
    }

    /** A module whose forward and merge run the given code and add nothing. */
    record Probe(BiFunction<NDArray, NDArray, NDArray> onForward, java.util.function.Consumer<LinearBase> onMerge,
                 LinearBase[] seen) implements LinearSiteModule {
        public NDArray forward(NDArray x, NDArray result, LinearBase base, ForwardContext ctx) {
            seen[0] = base;
            return onForward.apply(x, result);
        }

        public Optional<NDArray> deltaWeight(LinearBase base) {
            return Optional.empty();
        }

        public void merge(LinearBase base) {
            onMerge.accept(base);
        }

        public void unmerge(LinearBase base) {
        }

        public SiteInfo site() {
            return SITE;
        }
    }

    AdaptableLinear fullPrecision() {
        return new AdaptableLinear(SITE, m, m.create(W, new Shape(2, 3)), m.create(BIAS));
    }

    AdaptableLinear quantized(Halves q) {
        AdaptableLinear l = fullPrecision();
        l.setQuantizedWeight(q);
        return l;
    }

    /** {@code x W^T + b} for one row, by hand. */
    static float[] affine(float[] x, float[] w, float[] b) {
        float[] y = new float[2];
        for (int o = 0; o < 2; o++) {
            y[o] = (b == null ? 0f : b[o]) + x[0] * w[o * 3] + x[1] * w[o * 3 + 1] + x[2] * w[o * 3 + 2];
        }
        return y;
    }

    @Test
    void fullPrecisionLeaseIsTheStoredWeightAndClosingItFreesNothing() {
        AdaptableLinear l = fullPrecision();
        NDArray stored = l.rawWeight();
        try (BaseWeight w = l.weight()) {
            assertThat(w.array()).isSameAs(stored);
            assertThat(l.openWeightLeases()).isEqualTo(1);
        }
        assertThat(stored.isReleased()).isFalse();
        assertThat(l.withWeight(NDArray::toFloatArray)).containsExactly(W);
        assertThat(l.openWeightLeases()).isZero();
    }

    @Test
    void quantizedLeaseOwnsADequantizedCopyAndFreesItOnClose() {
        Halves q = new Halves(W);
        AdaptableLinear l = quantized(q);
        NDArray copy;
        try (BaseWeight w = l.weight()) {
            copy = w.array();
            assertThat(copy.toFloatArray()).containsExactly(W_ROUNDED);
        }
        assertThat(copy.isReleased()).isTrue();
        assertThat(q.closed).isFalse();          // the stored (quantized) weight stays
        assertThat(l.withWeight(NDArray::toFloatArray)).containsExactly(W_ROUNDED);
        assertThat(q.dequantized).isEqualTo(2);  // one copy per lease
        // project() outside a pass goes through a lease too, and frees it
        float[] x = {1f, 2f, -1f};
        assertThat(l.project(m.create(x, new Shape(1, 3)), PlatformForwardContext.eval(m)).toFloatArray())
                .containsExactly(affine(x, W_ROUNDED, null), within(1e-6f));
        assertThat(l.openWeightLeases()).isZero();
    }

    @Test
    void leasesInsideAForwardPassShareThePassCopyWithoutDequantizingAgain() {
        Halves q = new Halves(W);
        AdaptableLinear l = quantized(q);
        List<NDArray> leased = new ArrayList<>();
        List<Boolean> releasedAfterClose = new ArrayList<>();
        LinearBase[] seen = new LinearBase[1];
        l.attach("probe", new Probe((x, result) -> {
            try (BaseWeight w = seen[0].weight()) {
                leased.add(w.array());
            }
            releasedAfterClose.add(leased.get(0).isReleased());
            return result;
        }, b -> { }, seen));
        try (NDManager pass = m.newSubManager()) {
            l.forward(pass.create(new float[] {1f, 2f, -1f}, new Shape(1, 3)), List.of("probe"),
                    PlatformForwardContext.eval(pass));
            assertThat(q.dequantized).isEqualTo(1);               // the pass's own dequantization only
            assertThat(releasedAfterClose).containsExactly(false); // the pass, not the lease, owns it
            assertThat(leased.get(0).getManager()).isSameAs(pass);
        }
        assertThat(leased.get(0).isReleased()).isTrue();          // freed with the pass
        assertThat(l.openWeightLeases()).isZero();
    }

    @Test
    void outputOfTheLayerInputIsTheBaseOutputAlreadyComputed() {
        AdaptableLinear l = fullPrecision();
        LinearBase[] seen = new LinearBase[1];
        List<NDArray> outputs = new ArrayList<>();
        List<NDArray> results = new ArrayList<>();
        BiFunction<NDArray, NDArray, NDArray> record = (x, result) -> {
            results.add(result);
            outputs.add(seen[0].output(x, PlatformForwardContext.eval(m)));
            return result.add(1f);   // a contribution, so the next module's result is no longer base(x)
        };
        l.attach("first", new Probe(record, b -> { }, seen));
        l.attach("second", new Probe(record, b -> { }, seen));
        float[] x = {1f, 2f, -1f};
        NDArray in = m.create(x, new Shape(1, 3));
        l.forward(in, List.of("first", "second"), PlatformForwardContext.eval(m));

        assertThat(outputs.get(0)).isSameAs(results.get(0));   // no second x W^T + b: the platform's array itself
        assertThat(outputs.get(1)).isSameAs(outputs.get(0));   // still base(x), not the output so far
        assertThat(outputs.get(1).toFloatArray()).containsExactly(affine(x, W, BIAS), within(1e-6f));
        // another input (here 2x) is computed, not taken from the call
        float[] x2 = {2f, 4f, -2f};
        assertThat(l.output(in.mul(2f), PlatformForwardContext.eval(m)).toFloatArray())
                .containsExactly(affine(x2, W, BIAS), within(1e-6f));
    }

    @Test
    void mergeFreesTheCopiesOfLeasesAPluginLeftOpenAndCountsThem() {
        Halves q = new Halves(W);
        AdaptableLinear l = quantized(q);
        List<NDArray> leaked = new ArrayList<>();
        l.attach("tidy", new Probe((x, r) -> r, b -> b.withWeight(NDArray::sum), new LinearBase[1]));
        l.attach("leaky", new Probe((x, r) -> r, b -> leaked.add(b.weight().array()), new LinearBase[1]));
        l.merge("tidy");
        assertThat(l.openWeightLeases()).isZero();
        l.merge("leaky");
        assertThat(leaked.get(0).isReleased()).isTrue();   // freed with the operation's manager
        assertThat(l.openWeightLeases()).isEqualTo(1);     // and reported
    }
}
