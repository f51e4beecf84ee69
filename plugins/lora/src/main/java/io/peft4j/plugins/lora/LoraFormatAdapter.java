package io.peft4j.plugins.lora;

import io.peft4j.api.Adapter;
import io.peft4j.api.AdapterConfig;
import io.peft4j.api.ModelShape;
import io.peft4j.api.SiteInfo;
import java.util.List;
import java.util.Map;

/**
 * An adapter saved in PEFT's LoRA format ({@code peft_type: LORA}): LoRA, and DoRA, which is the same format with
 * {@code use_dora: true}. Holds the rules the two share: which saved configs each reads, and the rank warning.
 * Public because the dora plugin extends it through its PF4J plugin dependency on lora.
 */
public abstract class LoraFormatAdapter implements Adapter {
    private final boolean dora;

    /** @param dora whether this method reads the configs with {@code use_dora: true} (DoRA) or the others (LoRA) */
    protected LoraFormatAdapter(boolean dora) {
        this.dora = dora;
    }

    /** {@code peft_type == "LORA"}, split on {@code use_dora}: LoRA and DoRA share the peft_type. */
    @Override
    public final boolean readsPeftConfig(Map<String, Object> json) {
        return "LORA".equals(json.get("peft_type")) && Boolean.TRUE.equals(json.get("use_dora")) == dora;
    }

    /** Warns about ranks above {@code min(in, out)} ({@link LoraFactors#warnLargeRanks}); PEFT accepts them. */
    @Override
    public final void validate(AdapterConfig config, List<SiteInfo> sites, ModelShape shape) {
        LoraFactors.warnLargeRanks(sites, ((LoraFamilyConfig) config)::rankFor);
    }
}
