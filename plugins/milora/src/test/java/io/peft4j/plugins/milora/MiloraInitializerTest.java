package io.peft4j.plugins.milora;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.peft4j.plugins.testkit.TestAdapterContext;
import io.peft4j.plugins.testkit.TestLinearBase;
import io.peft4j.plugins.testkit.TestLowRankSite;
import io.peft4j.plugins.testkit.TestTensors;
import org.junit.jupiter.api.Test;

class MiloraInitializerTest {
    private final MiloraInitializer milora = new MiloraInitializer();

    @Test
    void handlesOnlyMilora() {
        assertThat(milora.handles("milora")).isTrue();
        assertThat(milora.handles("pissa")).isFalse();
        assertThat(milora.handles("mica")).isFalse();
    }

    /** Like PEFT's PiSSA, a rank above min(in, out) takes all min(in, out) triplets. */
    @Test
    void rankLargerThanTheModuleTakesAllTriplets() {
        try (NDManager m = NDManager.newBaseManager()) {
            TestLinearBase base = TestLinearBase.of(m.randomNormal(new Shape(12, 16)));
            milora.validate("milora", base.site(), 13);
            assertThat(milora.factorRank("milora", base.site(), 13)).isEqualTo(12);
            assertThat(milora.factorRank("milora", base.site(), 4)).isEqualTo(4);
        }
    }

    /**
     * W_res + s·BA == W; the adapter holds the smallest r singular values (its singular values, times s, are the
     * last r of W's) and the residual keeps the leading k - r ones.
     */
    @Test
    void initTakesTheMinorTriplets() {
        try (NDManager m = NDManager.newBaseManager()) {
            Engine.getInstance().setRandomSeed(11);
            NDArray w = m.randomNormal(new Shape(12, 16));
            NDArray w0 = w.duplicate();
            TestLinearBase base = TestLinearBase.of(w);
            TestLowRankSite site = new TestLowRankSite(m, base.site(), 4, 4f);
            milora.initialize("milora", site, base, new TestAdapterContext(m));
            NDArray delta = site.deltaWeight(base).orElseThrow();
            assertThat(TestTensors.maxAbsDiff(base.rawWeight().add(delta), w0)).isLessThan(1e-5);
            float[] all = svdValues(w0);
            float[] adapter = svdValues(delta);
            float[] rest = svdValues(base.rawWeight());
            for (int i = 0; i < 4; i++) {
                assertThat(adapter[i]).isCloseTo(all[8 + i], org.assertj.core.data.Offset.offset(1e-4f));
            }
            for (int i = 0; i < 8; i++) {
                assertThat(rest[i]).isCloseTo(all[i], org.assertj.core.data.Offset.offset(1e-4f));
            }
        }
    }

    /** Singular values through the plugin's own path: eigenvalues of W W^T would do, but EJML is at hand. */
    private static float[] svdValues(NDArray x) {
        long[] s = x.getShape().getShape();
        float[] f = x.toFloatArray();
        org.ejml.data.DMatrixRMaj d = new org.ejml.data.DMatrixRMaj((int) s[0], (int) s[1]);
        for (int i = 0; i < f.length; i++) {
            d.data[i] = f[i];
        }
        double[] v = org.ejml.dense.row.SingularOps_DDRM.singularValues(d);
        java.util.Arrays.sort(v);
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = (float) v[v.length - 1 - i];
        }
        return out;
    }
}
