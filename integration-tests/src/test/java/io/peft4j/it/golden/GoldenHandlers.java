package io.peft4j.it.golden;

import ai.djl.ndarray.NDManager;
import io.peft4j.api.Adapter;
import io.peft4j.core.plugin.InstalledExtensions;
import java.util.Optional;

/**
 * Maps each golden case to the installed extension it exercises and the handler that runs it. Returns empty when
 * the extension is not installed (the case is skipped); throws when it is installed but no handler knows the case.
 */
final class GoldenHandlers {
    interface Handler {
        void run(GoldenCase c, NDManager m) throws Exception;
    }

    private GoldenHandlers() {
    }

    static Optional<Handler> find(GoldenCase c, InstalledExtensions ext) {
        switch (c.method) {
            case "lora" -> {
                Optional<Adapter> lora = ext.adapter("lora");
                if (lora.isEmpty()) {
                    return Optional.empty();
                }
                Adapter a = lora.get();
                return Optional.of(switch (c.name) {
                    case "lora_merge" -> (cc, m) -> LoraFamilyCases.loraMerge(cc, a, m);
                    default -> (cc, m) -> LoraFamilyCases.loraForward(cc, a, m);
                });
            }
            case "format" -> {
                Optional<Adapter> lora = ext.adapter("lora");
                return lora.map(a -> (cc, m) -> LoraFamilyCases.stateDictKeys(cc, a, m));
            }
            default -> {
                return Optional.empty();
            }
        }
    }
}
