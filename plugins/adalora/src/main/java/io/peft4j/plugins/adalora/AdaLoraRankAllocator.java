package io.peft4j.plugins.adalora;

import io.peft4j.api.AdapterConfig;
import io.peft4j.api.AdapterInstance;
import io.peft4j.api.ConfigException;
import io.peft4j.api.RankAllocator;
import org.pf4j.Extension;

/**
 * The AdaLoRA rank allocator: importance-driven pruning of an "adalora" adapter's SVD triplets under a cubic budget
 * schedule (see {@link AdaLoraSchedule} and {@link BudgetSchedule}). The schedule's numbers come from the adapter's
 * configuration ({@code total_step, tinit, tfinal, deltaT, beta1, beta2, target_r}); options given under
 * {@code rank_allocator:} ({@link AdaLoraAllocatorOptions}) override them and are validated by the same rules.
 */
@Extension
public final class AdaLoraRankAllocator implements RankAllocator<AdaLoraAllocatorOptions> {
    public static final String ID = "adalora";

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

    @Override
    public Class<AdaLoraAllocatorOptions> optionsType() {
        return AdaLoraAllocatorOptions.class;
    }

    /** The adapter's config with the options applied obeys {@link AdaLoraConfig#validate()}. */
    @Override
    public void validate(AdapterConfig config, AdaLoraAllocatorOptions options) {
        if (config instanceof AdaLoraConfig c) {
            withOptions(c, options);
        }
    }

    /**
     * @param totalSteps the run's optimizer steps; {@code total_step} must not exceed it (otherwise the final
     *                   allocation to the target budget would never happen). 0 means unknown and is not checked.
     */
    @Override
    public Schedule start(AdapterInstance adapter, AdaLoraAllocatorOptions options, int totalSteps) {
        if (!(adapter instanceof AdaLoraInstance a)) {
            throw new ConfigException("rank_allocator", "allocator '" + ID + "' drives only adapters of method '"
                    + AdaLoraAdapter.METHOD + "', not " + adapter.getClass().getSimpleName());
        }
        AdaLoraConfig c = withOptions(a.config(), options == null ? AdaLoraAllocatorOptions.none() : options);
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

    /**
     * The adapter config with the allocator options applied, validated: an error on an option given here is
     * reported as {@code rank_allocator.<key>}, one on a value from the adapter's config under its own key.
     */
    static AdaLoraConfig withOptions(AdaLoraConfig c, AdaLoraAllocatorOptions o) {
        AdaLoraConfig merged = new AdaLoraConfig(c.initR(), or(o.targetR(), c.targetR()), or(o.tinit(), c.tinit()),
                or(o.tfinal(), c.tfinal()), or(o.deltaT(), c.deltaT()), or(o.beta1(), c.beta1()),
                or(o.beta2(), c.beta2()), c.orthRegWeight(), or(o.totalStep(), c.totalStep()),
                c.rankPattern(), c.loraAlpha(), c.loraDropout(), c.targetModules(), c.excludeModules(),
                c.initLoraWeights(), c.layersToTransform(), c.layersPattern(), c.bias(), c.useDora(),
                c.fanInFanOut(), c.modulesToSave(), c.taskType(), c.baseModelNameOrPath());
        try {
            merged.validate();
        } catch (ConfigException e) {
            throw o.given().contains(e.field()) ? e.under("rank_allocator") : e;
        }
        return merged;
    }

    private static <T> T or(T option, T fallback) {
        return option != null ? option : fallback;
    }
}
