package io.peft4j.plugins.milora;

import io.peft4j.api.AdapterContext;
import io.peft4j.api.LinearAlgebra.Svd;
import io.peft4j.api.LinearBase;
import io.peft4j.api.LowRankSite;
import io.peft4j.plugins.pissa.PissaInitializer;
import io.peft4j.plugins.pissa.ResidualInitializer;
import org.pf4j.Extension;

/**
 * MiLoRA initialisation ({@code init_lora_weights: "milora"}): PiSSA with the smallest r triplets of the reduced SVD
 * (the authors' {@code svd_init.py}, {@code mode="min"}):
 * <pre>
 *   W = U · diag(S) · Vh            reduced SVD (k = min(out, in)), S descending
 *   Ss = S[k-r:] / s                s = the adapter's scaling
 *   B = U[:, k-r:] · diag(√Ss)      [out, r]
 *   A = diag(√Ss) · Vh[k-r:]        [r, in]
 *   W_res = W - s · B A             written back to the base layer
 * </pre>
 * For a rectangular W the "minor" components are the last of the {@code min(out, in)} values; the null space is not
 * used. The decomposition runs in float64 (the platform's LinearAlgebra); the factors are rounded to float32 and the
 * residual is computed in float32 from them (PiSSA's code, reached through the plugin dependency on pissa), so
 * {@code W_res + s·B A} reproduces W to float32 rounding and the output is unchanged at initialisation. Factors are
 * set through the {@link LowRankSite} view (LoRA and DoRA alike). MiLoRA is not part of PEFT; like PEFT's PiSSA, a
 * rank above {@code min(in, out)} takes all {@code min(in, out)} triplets (see the pissa plugin's SvdInitializer).
 *
 * <p><b>Quantized bases.</b> The platform quantizes base layers after initialisation, so MiLoRA decomposes the
 * full-precision weight and the residual is what gets quantized. On an already quantized base it decomposes the
 * dequantized weight and {@link LinearBase#setWeight} re-quantizes the residual (lossy), or refuses the write.
 *
 * <p>Saving: like PiSSA, a saved adapter keeps {@code init_lora_weights: "milora"} and re-decomposes the original base
 * when loaded; {@code output.convert_to_lora} saves a plain LoRA adapter for the original weights instead.
 */
@Extension
public final class MiloraInitializer extends ResidualInitializer {
    public static final String ID = "milora";

    public MiloraInitializer() {
        super(ID, null, "MiLoRA: adapter = smallest-r singular triplets of W, base = the rest");
    }

    /** The last r triplets, applied as PiSSA applies its top ones ({@link PissaInitializer#applyTriplets}). */
    @Override
    public void initialize(String initName, LowRankSite site, LinearBase base, AdapterContext ctx) {
        Svd svd = base.withWeight(ctx.linearAlgebra()::svd);     // u [out, k], s [k] descending, vh [k, in]
        int k = svd.rank();
        int r = triplets(site);
        PissaInitializer.applyTriplets(svd.slice(k - r, k), site, base, ctx.manager());
    }
}
