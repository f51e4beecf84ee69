package io.peft4j.plugins.pissa;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.ConfigException;
import io.peft4j.plugins.testkit.TestAdapterContext;
import io.peft4j.plugins.testkit.TestLinearBase;
import io.peft4j.plugins.testkit.TestLowRankSite;
import io.peft4j.plugins.testkit.TestTensors;
import io.peft4j.linalg.EjmlLinearAlgebra;
import org.junit.jupiter.api.Test;

class PissaInitializerTest {
    private final PissaInitializer pissa = new PissaInitializer();

    @Test
    void namesAndNiterParsing() {
        assertThat(pissa.handles("pissa")).isTrue();
        assertThat(pissa.handles("pissa_niter_4")).isTrue();
        assertThat(pissa.handles("milora")).isFalse();
        assertThat(pissa.handles("true")).isFalse();
        assertThat(PissaInitializer.niter("pissa")).isEqualTo(-1);
        assertThat(PissaInitializer.niter("pissa_niter_0")).isZero();
        assertThat(PissaInitializer.niter("pissa_niter_16")).isEqualTo(16);
        for (String bad : new String[] {"pissa_niter_", "pissa_niter_x", "pissa_niter_-1", "pissa_niter_2.5"}) {
            assertThatThrownBy(() -> PissaInitializer.niter(bad)).isInstanceOf(ConfigException.class)
                    .hasMessageContaining("init_lora_weights").hasMessageContaining(bad);
        }
    }

    /**
     * As in PEFT: exact PiSSA takes any rank and slices its factors at min(in, out); the randomized variant is
     * rejected above it (torch.svd_lowrank fails there), naming the module and its shape.
     */
    @Test
    void rankLargerThanTheModuleSlicesExactPissaAndRejectsTheRandomizedOne() {
        try (NDManager m = NDManager.newBaseManager()) {
            TestLinearBase base = TestLinearBase.of(m.randomNormal(new Shape(12, 16)));
            assertThatThrownBy(() -> pissa.validate("pissa_niter_2", base.site(), 13))
                    .isInstanceOf(ConfigException.class)
                    .hasMessageContaining("model.layers.0.self_attn.q_proj").hasMessageContaining("out=12, in=16")
                    .hasMessageContaining("r = 13");
            pissa.validate("pissa_niter_2", base.site(), 12);
            pissa.validate("pissa", base.site(), 13);
            assertThat(pissa.factorRank("pissa", base.site(), 13)).isEqualTo(12);
            assertThat(pissa.factorRank("pissa", base.site(), 5)).isEqualTo(5);
        }
    }

    /** Exact PiSSA: W_res + s·BA == W, s·BA has rank r and W_res's spectrum is W's without the top r values. */
    @Test
    void exactInitKeepsTheFunctionAndRemovesTheTopTriplets() {
        try (NDManager m = NDManager.newBaseManager()) {
            Engine.getInstance().setRandomSeed(3);
            NDArray w = m.randomNormal(new Shape(12, 16));
            NDArray w0 = w.duplicate();
            TestLinearBase base = TestLinearBase.of(w);
            TestLowRankSite site = new TestLowRankSite(m, base.site(), 4, 2f);
            pissa.initialize("pissa", site, base, new TestAdapterContext(m));
            NDArray sum = base.rawWeight().add(site.deltaWeight(base).orElseThrow());
            assertThat(TestTensors.maxAbsDiff(sum, w0)).isLessThan(1e-5);
            double[] all = EjmlLinearAlgebra.INSTANCE.svd(w0).s();
            double[] rest = EjmlLinearAlgebra.INSTANCE.svd(base.rawWeight()).s();
            for (int i = 0; i < rest.length - 4; i++) {
                assertThat(rest[i]).isCloseTo(all[i + 4], org.assertj.core.data.Offset.offset(1e-4));
            }
            // Row norms of A are sqrt(S_i / s).
            float[] rowNorms = site.loraA().norm(new int[] {1}).toFloatArray();
            for (int i = 0; i < 4; i++) {
                assertThat((double) rowNorms[i]).isCloseTo(Math.sqrt(all[i] / 2), org.assertj.core.data.Offset.offset(1e-4));
            }
        }
    }

    /** The randomized variant converges to the exact truncated SVD on a matrix with a spectral gap. */
    @Test
    void randomizedMatchesExactOnAGappedSpectrum() {
        try (NDManager m = NDManager.newBaseManager()) {
            Engine.getInstance().setRandomSeed(5);
            NDArray low = m.randomNormal(new Shape(20, 3)).matMul(m.randomNormal(new Shape(3, 24))).mul(10);
            NDArray w = low.add(m.randomNormal(new Shape(20, 24)).mul(0.01f));
            NDArray w0 = w.duplicate();
            TestLinearBase exactBase = TestLinearBase.of(w.duplicate());
            TestLowRankSite exact = new TestLowRankSite(m, exactBase.site(), 3, 1f);
            pissa.initialize("pissa", exact, exactBase, new TestAdapterContext(m));
            TestLinearBase base = TestLinearBase.of(w);
            TestLowRankSite fast = new TestLowRankSite(m, base.site(), 3, 1f);
            pissa.initialize("pissa_niter_2", fast, base, new TestAdapterContext(m));
            assertThat(TestTensors.maxAbsDiff(base.rawWeight().add(fast.deltaWeight(base).orElseThrow()), w0))
                    .isLessThan(1e-4);
            assertThat(TestTensors.maxAbsDiff(fast.deltaWeight(base).orElseThrow(),
                    exact.deltaWeight(exactBase).orElseThrow())).isLessThan(1e-3);
        }
    }
}
