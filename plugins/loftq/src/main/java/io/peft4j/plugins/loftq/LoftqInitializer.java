package io.peft4j.plugins.loftq;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.peft4j.api.AdapterContext;
import io.peft4j.api.ConfigException;
import io.peft4j.api.LinearBase;
import io.peft4j.api.LowRankSite;
import io.peft4j.api.PlannedQuantization;
import io.peft4j.api.QuantizedWeight;
import io.peft4j.api.SiteInfo;
import io.peft4j.api.LinearAlgebra.Svd;
import io.peft4j.plugins.pissa.PissaInitializer;
import io.peft4j.plugins.pissa.SvdInitializer;
import org.pf4j.Extension;

/**
 * LoftQ initialisation ({@code init_lora_weights: "loftq"}, or {@code "loftq_iter_<N>"} for N alternations;
 * PEFT's {@code loftq_config.loftq_iter}, default 1), as Hugging Face PEFT's {@code loftq_init}:
 * <pre>
 *   res = W
 *   repeat N times:
 *     X   = res                           the matrix that will be quantized
 *     Qd  = dequantize(quantize(X))       with the run's quantizer and options (e.g. NF4, blocksize 64)
 *     L R = best rank-r approximation of W - Qd    (SVD: L = U·√S, R = √S·Vh)
 *     res = W - L R
 *   base ← X                              the platform quantizes it next: Q(X) = Qd
 *   A, B such that s·B A = L R            (A = √(S/s)·Vh[:r], B = U[:, :r]·√(S/s))
 * </pre>
 * so the quantized model starts at {@code Qd + s·B A}, which is closer to {@code W} than {@code Qd} alone (the rank-r
 * part of the quantization error is put back). Difference from PEFT: PEFT assigns {@code A = R, B = L} and ignores
 * the LoRA scaling, so its start equals {@code Qd + L R} only when {@code lora_alpha = r}; here {@code s·B A = L R}
 * for any alpha (as PEFT's PiSSA does). The SVD runs in float64 (the platform's LinearAlgebra).
 *
 * <p>Needs a quantized run ({@code quantization:} in the configuration): without one there is no quantization error
 * to compensate and the initialisation is refused with a clear error. The simulation uses the same deterministic
 * quantizer and options as the platform, so the quantization the platform then applies to {@code X} reproduces
 * {@code Qd}.
 *
 * <p>LoRA configs store it in PEFT's spelling ({@code init_lora_weights: "loftq"} plus {@code loftq_config:
 * {loftq_bits: 4, loftq_iter: N}}; {@code "loftq_iter_N"} is accepted as input). The trained factors belong to the rewritten
 * base {@code Q(X)}, as in PEFT's LoftQ workflow (which saves the modified base beside the adapter): loading the
 * adapter onto a session whose base is already quantized re-runs LoftQ on the dequantized {@code Q(W)} and does not
 * give back the trained model. Ship the model instead: {@code peft4j merge} exports it merged, at full precision or
 * re-quantized.
 */
@Extension
public final class LoftqInitializer extends SvdInitializer {
    public static final String ID = "loftq";
    static final String ITER_PREFIX = "loftq_iter_";

    public LoftqInitializer() {
        super(ID, ITER_PREFIX, "LoftQ: base = what gets quantized, adapter = rank-r part of the quantization error "
                + "(loftq, loftq_iter_<N>); needs quantization:");
    }

    /** The base is replaced by the matrix the platform will quantize. */
    @Override
    public boolean rewritesBase() {
        return true;
    }

    /**
     * Alternations of {@code loftq_iter_<N>} (1 for {@code loftq}).
     *
     * @throws ConfigException on {@code init_lora_weights} unless N is an integer from 1 to 100
     */
    static int iterations(String initName) {
        if (ID.equals(initName)) {
            return 1;
        }
        return suffixNumber(initName, ITER_PREFIX, 1, 100,
                "\"loftq\" or \"loftq_iter_<N>\" with N from 1 to 100 alternations (e.g. loftq_iter_5)");
    }

    @Override
    public void validate(String initName, SiteInfo site, int rank) {
        iterations(initName);
    }

    @Override
    public void initialize(String initName, LowRankSite site, LinearBase base, AdapterContext ctx) {
        validate(initName, base.site(), site.rank());
        PlannedQuantization<?> q = ctx.plannedQuantization().orElseThrow(() -> new ConfigException("init_lora_weights",
                "\"" + initName + "\" compensates quantization error, but the run has no quantization section; "
                        + "add e.g. quantization: {method: nf4}, or use pissa for a full-precision base"));
        int iterations = iterations(initName);
        int r = triplets(site);   // PEFT's _low_rank_decomposition slices diag(S)[:, :r] at the SVD's size too
        try (NDManager tmp = ctx.manager().newSubManager()) {
            NDArray w = base.withWeight(NDArray::duplicate);
            w.attach(tmp);
            NDArray toQuantize = w;
            Svd top = null;
            for (int i = 0; i < iterations; i++) {
                NDArray dequantized;
                try (QuantizedWeight qw = q.quantize(toQuantize)) {
                    dequantized = qw.dequantize(tmp);
                }
                NDArray error = w.sub(dequantized);
                top = ctx.linearAlgebra().svd(error).slice(0, r);
                if (i + 1 < iterations) {
                    PissaInitializer.setScaledFactors(top, site, tmp);
                    NDArray lowRank = site.loraB().matMul(site.loraA()).muli((float) site.scaling());
                    lowRank.attach(tmp);
                    toQuantize = w.sub(lowRank);
                }
            }
            PissaInitializer.setScaledFactors(top, site, tmp);
            NDArray newBase = toQuantize.duplicate();
            newBase.attach(base.withWeight(NDArray::getManager));
            base.setWeight(newBase);
        }
    }
}
