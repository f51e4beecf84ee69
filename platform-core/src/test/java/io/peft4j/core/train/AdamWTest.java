package io.peft4j.core.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.training.GradientCollector;
import io.peft4j.api.ParamGroup;
import io.peft4j.api.ParamRole;
import io.peft4j.api.Parameter;
import io.peft4j.core.train.optim.AdamW;
import io.peft4j.core.train.optim.GradientClipping;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class AdamWTest {
    private static final double B1 = 0.9;
    private static final double B2 = 0.999;
    private static final double EPS = 1e-8;

    /** Sets p.grad = c by backpropagating sum(p * c). */
    static void setGrad(List<Parameter> ps, List<float[]> cs) {
        try (NDScope s = new NDScope(); GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            NDArray total = null;
            for (int i = 0; i < ps.size(); i++) {
                NDArray p = ps.get(i).value();
                NDArray term = p.mul(p.getManager().create(cs.get(i))).sum();
                total = total == null ? term : total.add(term);
            }
            gc.backward(total);
        }
    }

    /** Reference: PyTorch AdamW in doubles, one element. */
    static final class Ref {
        double p, m, v;
        int t;
        final double eps;

        Ref(double p) {
            this(p, EPS);
        }

        Ref(double p, double eps) {
            this.p = p;
            this.eps = eps;
        }

        void step(double g, double lr, double wd) {
            t++;
            p *= 1 - lr * wd;
            m = B1 * m + (1 - B1) * g;
            v = B2 * v + (1 - B2) * g * g;
            double bc1 = 1 - Math.pow(B1, t);
            double bc2 = 1 - Math.pow(B2, t);
            double denom = Math.sqrt(v) / Math.sqrt(bc2) + eps;
            p -= lr / bc1 * m / denom;
        }
    }

    /** A large eps makes its placement (after the bias correction of sqrt(v)) visible. */
    @ParameterizedTest
    @ValueSource(doubles = {1e-8, 0.05})
    void matchesHandComputedAdamWOverSeveralStepsWithTwoGroups(double eps) {
        try (NDManager m = NDManager.newBaseManager()) {
            float[] p0 = {0.5f, -1.25f, 2.0f};
            float[] q0 = {0.1f, -0.3f};
            Parameter p = new Parameter("p", m.create(p0), ParamRole.DENSE, true);
            Parameter q = new Parameter("q", m.create(q0), ParamRole.BIAS, true);
            p.value().setRequiresGradient(true);
            q.value().setRequiresGradient(true);
            double lr = 0.05;
            List<ParamGroup> groups = List.of(new ParamGroup("wd", lr, 0.1, List.of(p)),
                    new ParamGroup("nowd", lr * 2, 0.0, List.of(q)));
            Ref[] rp = {new Ref(p0[0], eps), new Ref(p0[1], eps), new Ref(p0[2], eps)};
            Ref[] rq = {new Ref(q0[0], eps), new Ref(q0[1], eps)};
            double[] factors = {1.0, 0.5, 0.8, 1.0, 0.25};
            try (AdamW opt = new AdamW(groups, B1, B2, eps, m)) {
                for (int step = 0; step < factors.length; step++) {
                    float[] gp = {0.3f * (step + 1), -0.2f, (float) Math.sin(step)};
                    float[] gq = {1.5f - step, 0.01f * step};
                    setGrad(List.of(p, q), List.of(gp, gq));
                    opt.step(factors[step]);
                    opt.zeroGrad();
                    for (int i = 0; i < 3; i++) {
                        rp[i].step(gp[i], lr * factors[step], 0.1);
                    }
                    for (int i = 0; i < 2; i++) {
                        rq[i].step(gq[i], 2 * lr * factors[step], 0.0);
                    }
                    float[] gotP = p.value().toFloatArray();
                    float[] gotQ = q.value().toFloatArray();
                    for (int i = 0; i < 3; i++) {
                        assertThat((double) gotP[i]).as("p[%d] after step %d", i, step + 1)
                                .isCloseTo(rp[i].p, within(2e-6));
                    }
                    for (int i = 0; i < 2; i++) {
                        assertThat((double) gotQ[i]).as("q[%d] after step %d", i, step + 1)
                                .isCloseTo(rq[i].p, within(2e-6));
                    }
                }
                assertThat(opt.steps()).containsEntry("p", 5L).containsEntry("q", 5L);
                // gradients were zeroed
                try (NDArray g = AdamW.gradientOrNull(p.value())) {
                    assertThat(g.toFloatArray()).containsOnly(0f);
                }
            }
        }
    }

    @Test
    void parameterWithoutGradientIsSkippedAndFrozenOnesUntouched() {
        try (NDManager m = NDManager.newBaseManager()) {
            Parameter used = new Parameter("used", m.create(new float[] {1f}), ParamRole.DENSE, true);
            Parameter unused = new Parameter("unused", m.create(new float[] {2f}), ParamRole.DENSE, true);
            Parameter frozen = new Parameter("frozen", m.create(new float[] {3f}), ParamRole.DENSE, false);
            used.value().setRequiresGradient(true);
            unused.value().setRequiresGradient(true);
            try (AdamW opt = new AdamW(List.of(new ParamGroup("g", 0.1, 0.5, List.of(used, unused, frozen))),
                    B1, B2, EPS, m)) {
                setGrad(List.of(used), List.of(new float[] {1f}));
                opt.step(1.0);
                assertThat(unused.value().getFloat()).isEqualTo(2f);
                assertThat(frozen.value().getFloat()).isEqualTo(3f);
                assertThat(used.value().getFloat()).isNotEqualTo(1f);
                assertThat(opt.steps()).containsOnlyKeys("used");
            }
        }
    }

    @Test
    void stateRoundTripContinuesIdentically() {
        try (NDManager m = NDManager.newBaseManager()) {
            Parameter p1 = new Parameter("p", m.create(new float[] {0.5f, -0.5f}), ParamRole.DENSE, true);
            Parameter p2 = new Parameter("p", m.create(new float[] {0.5f, -0.5f}), ParamRole.DENSE, true);
            p1.value().setRequiresGradient(true);
            p2.value().setRequiresGradient(true);
            try (AdamW a = new AdamW(List.of(new ParamGroup("g", 0.1, 0.01, List.of(p1))), B1, B2, EPS, m);
                 AdamW b = new AdamW(List.of(new ParamGroup("g", 0.1, 0.01, List.of(p2))), B1, B2, EPS, m)) {
                for (int i = 0; i < 3; i++) {
                    setGrad(List.of(p1), List.of(new float[] {0.2f * i - 0.1f, 1f}));
                    a.step(1.0);
                    a.zeroGrad();
                }
                p1.value().copyTo(p2.value());
                b.loadState(a.stateTensors(), a.steps());
                for (int i = 0; i < 2; i++) {
                    float[] g = {0.7f, -0.3f * i};
                    setGrad(List.of(p1), List.of(g));
                    setGrad(List.of(p2), List.of(g));
                    a.step(0.5);
                    b.step(0.5);
                    a.zeroGrad();
                    b.zeroGrad();
                }
                assertThat(p2.value().toFloatArray()).containsExactly(p1.value().toFloatArray());
                assertThat(b.steps()).isEqualTo(Map.of("p", 5L));
            }
        }
    }

    @Test
    void clipGradNormMatchesTorchSemantics() {
        try (NDManager m = NDManager.newBaseManager()) {
            // a matrix, so the per-tensor norm must be the Frobenius norm of the flattened gradient
            Parameter p = new Parameter("p", m.create(new float[] {1f, 1f, 1f, 1f}, new ai.djl.ndarray.types.Shape(2, 2)),
                    ParamRole.DENSE, true);
            Parameter q = new Parameter("q", m.create(new float[] {1f}), ParamRole.DENSE, true);
            p.value().setRequiresGradient(true);
            q.value().setRequiresGradient(true);
            try (NDScope s = new NDScope(); GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray c = m.create(new float[] {3f, 0f, 0f, 4f}, new ai.djl.ndarray.types.Shape(2, 2));
                gc.backward(p.value().mul(c).sum().add(q.value().mul(12f).sum()));
            }
            double norm = GradientClipping.clip(List.of(p, q), 1.0);
            assertThat(norm).isCloseTo(13.0, within(1e-5));
            double coef = 1.0 / (13.0 + 1e-6);
            try (NDArray g = AdamW.gradientOrNull(p.value()); NDArray h = AdamW.gradientOrNull(q.value())) {
                assertThat((double) g.toFloatArray()[0]).isCloseTo(3 * coef, within(1e-7));
                assertThat((double) g.toFloatArray()[3]).isCloseTo(4 * coef, within(1e-7));
                assertThat((double) h.getFloat()).isCloseTo(12 * coef, within(1e-7));
            }
            // below the threshold nothing changes, and the norm is still reported
            double again = GradientClipping.clip(List.of(p, q), 5.0);
            assertThat(again).isCloseTo(13.0 * coef, within(1e-6));
            try (NDArray g = AdamW.gradientOrNull(p.value())) {
                assertThat((double) g.toFloatArray()[0]).isCloseTo(3 * coef, within(1e-7));
            }
        }
    }
}
