package io.peft4j.core.peft;

import io.peft4j.api.Adapter;
import io.peft4j.api.AdapterInstance;
import io.peft4j.api.SiteInfo;
import java.util.List;

/** An adapter instance together with the method that made it and the sites it occupies. */
public record AttachedAdapter(Adapter method, AdapterInstance instance, List<SiteInfo> sites) {
    public String name() {
        return instance.name();
    }
}
