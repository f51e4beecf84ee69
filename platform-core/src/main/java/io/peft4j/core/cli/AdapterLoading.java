package io.peft4j.core.cli;

import io.peft4j.core.peft.AdapterFiles;
import io.peft4j.core.peft.PeftModel;
import io.peft4j.core.plugin.InstalledExtensions;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Loads {@code --adapter [NAME=]DIR} arguments; a directory holding several adapters loads them all. */
final class AdapterLoading {
    private AdapterLoading() {
    }

    /** @return the names loaded, in order */
    static List<String> load(PeftModel peft, InstalledExtensions ext, List<String> specs, long seed) {
        List<String> names = new ArrayList<>();
        for (String spec : specs) {
            int eq = spec.indexOf('=');
            String given = eq > 0 ? spec.substring(0, eq) : null;
            Path dir = Path.of(eq > 0 ? spec.substring(eq + 1) : spec);
            String prefix = given != null ? given : specs.size() == 1 ? null : dir.getFileName().toString();
            names.addAll(AdapterFiles.loadComposition(peft, ext, dir, prefix, seed).names());
        }
        return names;
    }
}
