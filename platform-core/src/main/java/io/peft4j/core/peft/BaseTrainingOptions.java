package io.peft4j.core.peft;

import io.peft4j.api.AdapterConfig;
import io.peft4j.api.ConfigException;
import io.peft4j.api.SiteInfo;
import java.util.List;

/**
 * PEFT's options that train parts of the BASE model along with an adapter: {@code bias} ({@code all}: every bias of
 * the model; {@code <method>_only}, e.g. {@code lora_only}: the biases of the adapted layers) and
 * {@code modules_to_save} (whole trainable copies of modules such as {@code lm_head}, saved as
 * {@code <path>.weight}). peft4j trains and saves neither, so a configuration that would need them is rejected
 * here, before any tensor exists, rather than accepted and ignored. A {@code bias} setting that selects no bias at
 * all (Llama models such as stories260K have no linear biases) is accepted: PEFT trains and saves nothing extra
 * for it either.
 */
public final class BaseTrainingOptions {

    private BaseTrainingOptions() {
    }

    /**
     * @param allSites the model's sites (for {@code bias: all})
     * @param matched  the sites the adapter targets (for {@code bias: <method>_only})
     * @throws ConfigException on {@code modules_to_save} or {@code bias}, naming the module that makes it matter
     */
    public static void check(AdapterConfig config, List<SiteInfo> allSites, List<SiteInfo> matched) {
        List<String> modules = config.modulesToSave();
        if (modules != null && !modules.isEmpty()) {
            throw new ConfigException("modules_to_save", "is not supported: peft4j does not train and save whole "
                    + "copies of base modules (PEFT's modules_to_save " + modules + "); remove it, or adapt the "
                    + "module with the adapter itself (e.g. target_modules: [..., lm_head])");
        }
        String bias = config.bias() == null ? "none" : config.bias();
        if (bias.equals("none")) {
            return;
        }
        List<SiteInfo> scope = bias.equals("all") ? allSites : matched;
        List<SiteInfo> biased = scope.stream().filter(SiteInfo::hasBias).toList();
        if (!biased.isEmpty()) {
            throw new ConfigException("bias", "\"" + bias + "\" is not supported: PEFT would train (and save) the base "
                    + "biases of " + (bias.equals("all") ? "the whole model" : "the adapted layers") + ", e.g. "
                    + biased.get(0).path() + " (" + biased.size() + " biased layer" + (biased.size() == 1 ? "" : "s")
                    + "), which peft4j does not implement; use bias: none");
        }
    }
}
