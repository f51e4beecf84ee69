package io.peft4j.core.peft;

import io.peft4j.api.ConfigException;
import io.peft4j.api.SiteInfo;
import io.peft4j.api.SiteKind;
import io.peft4j.api.TargetSpec;
import io.peft4j.core.util.Suggestions;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Hugging Face PEFT's target matching ({@code check_target_module_exists}), implemented once for every method:
 * a regex string must match the whole module path; a list entry matches the path itself or any
 * {@code "." + entry} suffix; {@code all-linear} takes every linear layer except the output head; excludes use the
 * same rules and win; {@code layers_to_transform} keeps the layer index found after {@code layers_pattern} (or the
 * first {@code .<digits>.} component).
 */
public final class TargetMatcher {
    private static final Pattern ANY_LAYER = Pattern.compile(".*\\.(\\d+)\\..*");
    private static final String OUTPUT_HEAD = "lm_head";

    private TargetMatcher() {
    }

    /**
     * The sites of the given kinds selected by {@code spec}, in model order.
     *
     * @param field configuration path used in error messages, e.g. {@code adapters[0].target_modules}
     * @throws ConfigException when the targets match nothing (listing close module names) or a listed name matches
     *                         no module at all
     */
    public static List<SiteInfo> select(TargetSpec spec, List<SiteInfo> sites, Set<SiteKind> kinds, String field) {
        List<SiteInfo> candidates = sites.stream().filter(s -> kinds.contains(s.kind())).toList();
        List<SiteInfo> out = new ArrayList<>();
        for (SiteInfo s : candidates) {
            if (targeted(spec, s) && !excluded(spec, s) && inLayers(spec, s)) {
                out.add(s);
            }
        }
        if (out.isEmpty()) {
            throw new ConfigException(field, "matches no module of kind " + kinds + ". " + hint(spec, candidates));
        }
        if (spec.names() != null) {
            for (String n : spec.names()) {
                boolean any = candidates.stream().anyMatch(s -> nameMatches(n, s.path()));
                if (!any) {
                    throw new ConfigException(field, "\"" + n + "\" matches no module. " + closeNames(n, candidates));
                }
            }
        }
        return out;
    }

    static boolean targeted(TargetSpec spec, SiteInfo s) {
        if (spec.allLinear()) {
            return s.kind() == SiteKind.LINEAR && !s.path().equals(OUTPUT_HEAD) && !s.path().endsWith("." + OUTPUT_HEAD);
        }
        if (spec.regex() != null) {
            return Pattern.compile(spec.regex()).matcher(s.path()).matches();
        }
        if (spec.names() != null) {
            return spec.names().stream().anyMatch(n -> nameMatches(n, s.path()));
        }
        return false;
    }

    static boolean excluded(TargetSpec spec, SiteInfo s) {
        if (spec.excludeRegex() != null) {
            return Pattern.compile(spec.excludeRegex()).matcher(s.path()).matches();
        }
        if (spec.excludeNames() != null) {
            return spec.excludeNames().stream().anyMatch(n -> nameMatches(n, s.path()));
        }
        return false;
    }

    static boolean inLayers(TargetSpec spec, SiteInfo s) {
        if (spec.layers() == null) {
            return true;
        }
        Integer idx = null;
        if (spec.layersPattern() != null) {
            Matcher m = Pattern.compile(".*\\.(?:" + spec.layersPattern() + ")\\.(\\d+)\\..*").matcher(s.path());
            if (m.matches()) {
                idx = Integer.parseInt(m.group(1));
            }
        } else {
            Matcher m = ANY_LAYER.matcher(s.path());
            if (m.find()) {
                idx = Integer.parseInt(m.group(1));
            }
        }
        return idx != null && spec.layers().contains(idx);
    }

    static boolean nameMatches(String name, String path) {
        return path.equals(name) || path.endsWith("." + name);
    }

    private static String hint(TargetSpec spec, List<SiteInfo> candidates) {
        String probe = spec.regex() != null ? spec.regex()
                : spec.names() != null && !spec.names().isEmpty() ? spec.names().get(0) : "";
        return closeNames(probe, candidates);
    }

    private static String closeNames(String probe, List<SiteInfo> candidates) {
        Set<String> shortNames = new LinkedHashSet<>();
        for (SiteInfo s : candidates) {
            shortNames.add(s.shortName());
        }
        List<String> close = Suggestions.closest(probe, shortNames, 5);
        String example = candidates.isEmpty() ? "" : " (e.g. " + candidates.get(0).path() + ")";
        return "Close module names: " + close + "; all names available: " + shortNames + example;
    }
}
