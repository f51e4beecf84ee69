package io.peft4j.plugins.adalora;

import io.peft4j.api.AdapterInstance;
import io.peft4j.api.ConfigException;
import io.peft4j.api.RankAllocator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.pf4j.Extension;

/**
 * The AdaLoRA rank allocator: importance-driven pruning of an "adalora" adapter's SVD triplets under a cubic budget
 * schedule (see {@link AdaLoraSchedule} and {@link BudgetSchedule}). The schedule's numbers come from the adapter's
 * configuration ({@code total_step, tinit, tfinal, deltaT, beta1, beta2, target_r}); options given under
 * {@code rank_allocator:} override them and are validated by the same rules.
 */
@Extension
public final class AdaLoraRankAllocator implements RankAllocator {
    public static final String ID = "adalora";
    /** The options that may override the adapter configuration. */
    static final List<String> OPTIONS = List.of("total_step", "tinit", "tfinal", "deltaT", "beta1", "beta2",
            "target_r");

    @Override
    public String id() {
        return ID;
    }

    @Override
    public String description() {
        return "AdaLoRA: EMA sensitivity x uncertainty importance, cubic budget schedule from init_r to target_r";
    }

    @Override
    public boolean supports(String method) {
        return AdaLoraAdapter.METHOD.equals(method);
    }

    /**
     * @param totalSteps the run's optimizer steps; {@code total_step} must not exceed it (otherwise the final
     *                   allocation to the target budget would never happen). 0 means unknown and is not checked.
     */
    @Override
    public Schedule start(AdapterInstance adapter, Map<String, Object> options, int totalSteps) {
        if (!(adapter instanceof AdaLoraInstance a)) {
            throw new ConfigException("rank_allocator", "allocator '" + ID + "' drives only adapters of method '"
                    + AdaLoraAdapter.METHOD + "', not " + adapter.getClass().getSimpleName());
        }
        AdaLoraConfig c = withOptions(a.config(), options == null ? Map.of() : options);
        if (totalSteps > 0 && c.totalStep() > totalSteps) {
            throw new ConfigException("total_step", "is " + c.totalStep() + " but the run makes only " + totalSteps
                    + " optimizer steps, so the rank budget would never reach target_r; set total_step <= "
                    + totalSteps + " (training.steps)");
        }
        int initBgt = a.modules().values().stream().mapToInt(AdaLoraLayer::rank).sum();
        int targetBgt = c.targetR() * a.modules().size();
        BudgetSchedule schedule = new BudgetSchedule(initBgt, targetBgt, c.tinit(), c.tfinal(), c.totalStep(),
                c.deltaT());
        return new AdaLoraSchedule(a, schedule, c.beta1(), c.beta2());
    }

    /** The adapter config with the allocator options applied, validated ({@code rank_allocator.<key>} on errors). */
    static AdaLoraConfig withOptions(AdaLoraConfig c, Map<String, Object> options) {
        Map<String, Number> o = new LinkedHashMap<>();
        options.forEach((k, v) -> {
            if (!OPTIONS.contains(k)) {
                throw new ConfigException("rank_allocator." + k, "unknown option of allocator '" + ID
                        + "'; valid options: " + OPTIONS);
            }
            if (!(v instanceof Number n)) {
                throw new ConfigException("rank_allocator." + k, "expected a number, got " + v);
            }
            o.put(k, n);
        });
        AdaLoraConfig merged = new AdaLoraConfig(c.initR(), intOr(o, "target_r", c.targetR()),
                intOr(o, "tinit", c.tinit()), intOr(o, "tfinal", c.tfinal()), intOr(o, "deltaT", c.deltaT()),
                o.containsKey("beta1") ? o.get("beta1").doubleValue() : c.beta1(),
                o.containsKey("beta2") ? o.get("beta2").doubleValue() : c.beta2(), c.orthRegWeight(),
                o.containsKey("total_step") ? Integer.valueOf(o.get("total_step").intValue()) : c.totalStep(),
                c.rankPattern(), c.loraAlpha(), c.loraDropout(), c.targetModules(), c.excludeModules(),
                c.initLoraWeights(), c.layersToTransform(), c.layersPattern(), c.bias(), c.useDora(),
                c.fanInFanOut(), c.modulesToSave(), c.taskType(), c.baseModelNameOrPath());
        try {
            merged.validate();
        } catch (ConfigException e) {
            throw o.containsKey(e.field()) ? e.under("rank_allocator") : e;
        }
        return merged;
    }

    private static int intOr(Map<String, Number> o, String key, int fallback) {
        return o.containsKey(key) ? o.get(key).intValue() : fallback;
    }
}
