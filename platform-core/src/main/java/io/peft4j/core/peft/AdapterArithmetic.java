package io.peft4j.core.peft;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.AdapterConfig;
import io.peft4j.api.ConfigException;
import io.peft4j.api.LowRankConfig;
import io.peft4j.api.LowRankSite;
import io.peft4j.api.LowRankUpdate;
import io.peft4j.api.Merger;
import io.peft4j.core.plugin.Configured;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * Builds a new low-rank adapter in a {@link PeftModel} from existing ones, as Hugging Face PEFT's
 * {@code add_weighted_adapter} (spec section 9), with an installed {@link Merger} doing the per-site arithmetic:
 * <ol>
 *   <li>the inputs must be plain low-rank adapters: every module a {@link LowRankSite}, no parameters besides
 *       {@code lora_A} / {@code lora_B}. DoRA (magnitude), AdaLoRA (singular values), VeRA (shared projections) and
 *       {@code lora_bias} are refused, since PEFT would silently ignore that state;</li>
 *   <li>the new rank comes from {@link Merger#combinedRank} over each input's rank (the largest of its sites, as
 *       PEFT's {@code max(r, *rank_pattern.values())});</li>
 *   <li>the new config comes from {@link Merger#combinedConfig} (PEFT: a copy of the first input's with
 *       {@code r = lora_alpha = new rank}, scaling 1, and the inputs' combined targets); the first input's method
 *       creates the new adapter;</li>
 *   <li>per linear site of the new adapter, the updates {@code (A_i, B_i, s_i)} of the inputs present there are
 *       combined; sites without inputs get zero factors; a result of smaller rank than the new one ({@code cat} with
 *       some inputs absent, or an svd rank above {@code min(in, out)}) is padded with zeros.</li>
 * </ol>
 * With a single input the type is {@code linear} (PEFT). Unlike PEFT (a silent no-op), an existing name is an
 * error. The new adapter is attached, inactive.
 */
public final class AdapterArithmetic {
    private AdapterArithmetic() {
    }

    /**
     * @param adapters names of loaded adapters to combine, in order
     * @param weights  one weight per adapter (may be negative)
     * @param options  merger options such as {@code density}, {@code majority_sign_method}, {@code svd_rank},
     *                 parsed into the merger's options record (unknown keys are errors)
     * @param seed     seed of the random masks (DARE)
     */
    public static AttachedAdapter addWeighted(PeftModel model, Merger<?> merger, List<String> adapters,
                                              List<Double> weights, String newName, String combinationType,
                                              Map<String, Object> options, long seed) {
        if (model.adapters().containsKey(newName)) {
            throw new ConfigException("adapter_name", "an adapter named \"" + newName + "\" is already loaded; "
                    + "choose a new name (or delete it first)");
        }
        if (adapters.isEmpty()) {
            throw new ConfigException("adapters", "name at least one adapter to combine");
        }
        if (weights.size() != adapters.size()) {
            throw new ConfigException("weights", "got " + weights.size() + " weights for " + adapters.size()
                    + " adapters " + adapters + "; give exactly one weight per adapter");
        }
        if (new LinkedHashSet<>(adapters).size() != adapters.size()) {
            throw new ConfigException("adapters", "an adapter is listed twice: " + adapters);
        }
        Configured.Merge<?> configured = Configured.merger(merger, options, "");
        List<AttachedAdapter> inputs = new ArrayList<>();
        for (String n : adapters) {
            AttachedAdapter a = model.adapter(n);
            checkLowRank(a);
            inputs.add(a);
        }
        // PEFT: a single adapter is always combined linearly (a rescaled copy).
        String type = adapters.size() == 1 ? "linear" : combinationType;
        List<Integer> ranks = inputs.stream().map(AdapterArithmetic::rank).toList();
        int newRank = configured.combinedRank(type, ranks);

        AdapterConfig config = newConfig(merger, inputs, newRank, model.host().architecture());
        AttachedAdapter created = model.addAdapter(newName, inputs.get(0).method(), config, seed);
        try {
            Map<String, LowRankSite> newSites = lowRankModules(created);
            for (AttachedAdapter in : inputs) {
                for (String path : lowRankModules(in).keySet()) {
                    if (!newSites.containsKey(path)) {
                        throw new ConfigException("target_modules", "the combined targets " + config.targetSpec()
                                + " do not select " + path + " (adapted by '" + in.name() + "'); the inputs' "
                                + "exclude_modules / layers_to_transform differ");
                    }
                }
            }
            Random random = new Random(seed);
            for (Map.Entry<String, LowRankSite> e : newSites.entrySet()) {
                combineSite(e.getKey(), e.getValue(), inputs, weights, configured, type, newRank, random);
            }
        } catch (RuntimeException e) {
            model.deleteAdapter(newName);
            throw e;
        }
        return created;
    }

    private static void combineSite(String path, LowRankSite target, List<AttachedAdapter> inputs,
                                    List<Double> weights, Configured.Merge<?> merger, String type, int rank,
                                    Random random) {
        List<LowRankUpdate> updates = new ArrayList<>();
        List<Double> w = new ArrayList<>();
        for (int i = 0; i < inputs.size(); i++) {
            LowRankSite s = lowRankModules(inputs.get(i)).get(path);
            if (s != null) {
                updates.add(new LowRankUpdate(s.loraA(), s.loraB(), s.scaling()));
                w.add(weights.get(i));
            }
        }
        NDArray a0 = target.loraA();
        NDArray b0 = target.loraB();
        if (updates.isEmpty()) {
            try (NDArray za = a0.zerosLike(); NDArray zb = b0.zerosLike()) {
                target.setFactors(za, zb);
            }
            return;
        }
        LowRankUpdate u = merger.combine(type, updates, w, rank, random);   // svd: the global rank, as in PEFT
        try (NDArray a = padRows(u.loraA(), a0.getShape()); NDArray b = padCols(u.loraB(), b0.getShape())) {
            if (Math.abs(u.scaling() - 1) > 1e-12) {
                a.muli(u.scaling());   // the SPI promises scaling 1; fold any other value in, to be safe
            }
            target.setFactors(a, b);
        } finally {
            u.loraA().close();
            u.loraB().close();
        }
    }

    /** {@code x [k, in]} zero-padded to {@code [r, in]}. */
    private static NDArray padRows(NDArray x, Shape target) {
        long k = x.getShape().get(0);
        if (k > target.get(0) || x.getShape().get(1) != target.get(1)) {
            throw new IllegalStateException("combined lora_A " + x.getShape() + " does not fit " + target);
        }
        NDArray out = x.getManager().zeros(target, x.getDataType());
        if (k > 0) {
            out.set(new NDIndex(":{}, :", k), x);
        }
        return out;
    }

    /** {@code x [out, k]} zero-padded to {@code [out, r]}. */
    private static NDArray padCols(NDArray x, Shape target) {
        long k = x.getShape().get(1);
        if (k > target.get(1) || x.getShape().get(0) != target.get(0)) {
            throw new IllegalStateException("combined lora_B " + x.getShape() + " does not fit " + target);
        }
        NDArray out = x.getManager().zeros(target, x.getDataType());
        if (k > 0) {
            out.set(new NDIndex(":, :{}", k), x);
        }
        return out;
    }

    /**
     * Refuses adapters that are not {@link PlainLowRank}: combining reads only {@code s·B A}, so PEFT would ignore
     * any other state and change the adapter's function.
     */
    static void checkLowRank(AttachedAdapter a) {
        PlainLowRank.whyNot(a.instance()).ifPresent(why -> {
            throw new ConfigException("adapters", "'" + a.name() + "' (method " + a.method().method() + ") " + why
                    + "; only plain LoRA adapters (nothing but s·B A) can be combined");
        });
    }

    private static int rank(AttachedAdapter a) {
        return lowRankModules(a).values().stream().mapToInt(LowRankSite::rank).max()
                .orElseThrow(() -> new ConfigException("adapters", "'" + a.name() + "' has no modules"));
    }

    private static Map<String, LowRankSite> lowRankModules(AttachedAdapter a) {
        Map<String, LowRankSite> out = new LinkedHashMap<>();
        a.instance().modules().forEach((path, m) -> out.put(path, (LowRankSite) m));
        return out;
    }

    /**
     * The combined adapter's config, built by the merger from the inputs' {@link LowRankConfig}s, each with its
     * method's default targets filled in where it names none (spec 9.1, 9.6).
     */
    static LowRankConfig newConfig(Merger<?> merger, List<AttachedAdapter> inputs, int newRank, String architecture) {
        List<LowRankConfig> configs = new ArrayList<>();
        for (AttachedAdapter a : inputs) {
            if (!(a.instance().config() instanceof LowRankConfig c)) {
                throw new ConfigException("adapters", "'" + a.name() + "' (method " + a.method().method()
                        + ") has no low-rank configuration (r, lora_alpha); only LoRA adapters can be combined");
            }
            configs.add(c.targetSpec().isEmpty()
                    ? c.withTargetModules(PeftModel.defaultTargets(a.method(), architecture, "adapters." + a.name()))
                    : c);
        }
        LowRankConfig combined = merger.combinedConfig(configs, newRank);
        combined.validate();   // the method's own rules, as for a parsed config (e.g. the combined target regex)
        return combined;
    }
}
