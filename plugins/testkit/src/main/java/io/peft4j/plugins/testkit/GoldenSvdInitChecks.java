package io.peft4j.plugins.testkit;

import ai.djl.ndarray.NDArray;
import io.peft4j.api.Initializer;
import java.util.List;

/**
 * The unit-level handler for SVD initializer cases ({@code pissa_init}, {@code pissa_niter_init},
 * {@code milora_init}): the initializer runs on a {@link TestLowRankSite} of the case's rank and scaling over a
 * {@link TestLinearBase} holding the case's weight. Only sign-invariant quantities are compared (shared/golden
 * README): {@code B A}, {@code s·B A}, the residual weight left in the base, and the row norms of A / column norms
 * of B where the case gives them.
 */
public final class GoldenSvdInitChecks {
    private GoldenSvdInitChecks() {
    }

    public static GoldenSuite.Handler init(Initializer initializer) {
        return (c, m) -> {
            TestLinearBase base = new TestLinearBase(TestLinearBase.Q_PROJ, c.input(m, "weight"), null);
            float s = (float) c.config().get("scaling").asDouble();
            String init = c.config().get("init_lora_weights").asText();
            // As the adapter does: factors of the initializer's rank (min(in, out) when r is larger), scaling of r.
            int rank = initializer.factorRank(init, base.site(), c.config().get("r").asInt());
            TestLowRankSite site = new TestLowRankSite(m, base.site(), rank, s);
            TestAdapterContext ctx = TestAdapterContext.overLayers(m, List.of(initializer), base);
            initializer.initialize(init, site, base, ctx);
            NDArray ba = site.loraB().matMul(site.loraA());
            c.assertClose("BA_product", ba, c.expected(m, "BA_product"));
            if (c.expected().has("scaled_delta")) {
                c.assertClose("scaled_delta", ba.mul(s), c.expected(m, "scaled_delta"));
            }
            c.assertClose("residual_weight", base.weight().array(), c.expected(m, "residual_weight"));
            if (c.expected().has("lora_A_row_norms")) {
                c.assertClose("lora_A_row_norms", site.loraA().norm(new int[] {1}), c.expected(m, "lora_A_row_norms"));
                c.assertClose("lora_B_col_norms", site.loraB().norm(new int[] {0}), c.expected(m, "lora_B_col_norms"));
            }
        };
    }
}
