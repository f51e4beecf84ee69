package io.peft4j.core.prune;

import ai.djl.ndarray.NDArray;
import io.peft4j.api.BaseWeight;
import io.peft4j.core.model.AdaptableLinear;
import io.peft4j.core.model.LlamaModel;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Measured sparsity (share of exact zeros) of base linear weights: per module, per decoder layer (over that layer's
 * measured modules) and overall.
 *
 * @param modules per module path: zeros and total elements
 */
public record SparsityReport(Map<String, Count> modules) {

    /** Zeros among {@code total} elements. */
    public record Count(long zeros, long total) {
        public double sparsity() {
            return total == 0 ? 0 : (double) zeros / total;
        }

        Count plus(Count o) {
            return new Count(zeros + o.zeros, total + o.total);
        }
    }

    /** Counts the zeros of the current weights (dequantized for a quantized base) of the given linears. */
    public static SparsityReport measure(LlamaModel model, Collection<String> paths) {
        Map<String, Count> out = new LinkedHashMap<>();
        for (String p : paths) {
            AdaptableLinear l = model.linear(p);
            try (BaseWeight w = l.weight(); NDArray z = w.array().eq(0f); NDArray n = z.countNonzero()) {
                out.put(p, new Count(n.getLong(), w.array().getShape().size()));
            }
        }
        return new SparsityReport(out);
    }

    /** Per decoder layer index: the counts summed over that layer's modules. */
    public Map<Integer, Count> perLayer() {
        Map<Integer, Count> out = new java.util.TreeMap<>();
        modules.forEach((path, c) -> out.merge(layerOf(path), c, Count::plus));
        return out;
    }

    public Count overall() {
        Count total = new Count(0, 0);
        for (Count c : modules.values()) {
            total = total.plus(c);
        }
        return total;
    }

    static int layerOf(String path) {
        String[] parts = path.split("\\.");
        for (int i = 0; i + 1 < parts.length; i++) {
            if (parts[i].equals("layers")) {
                return Integer.parseInt(parts[i + 1]);
            }
        }
        return -1;
    }

    /** A plain-text table: one line per layer, then the overall share. */
    public String format() {
        List<String> lines = new ArrayList<>();
        lines.add("layer  sparsity  zeros/total");
        perLayer().forEach((layer, c) -> lines.add(String.format(Locale.ROOT, "%5d  %7.2f%%  %d/%d", layer,
                100 * c.sparsity(), c.zeros(), c.total())));
        Count all = overall();
        lines.add(String.format(Locale.ROOT, "  all  %7.2f%%  %d/%d", 100 * all.sparsity(), all.zeros(), all.total()));
        return String.join(System.lineSeparator(), lines);
    }

    /** JSON-friendly form: per layer and per module sparsity plus overall. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("overall", overall().sparsity());
        Map<String, Object> layers = new LinkedHashMap<>();
        perLayer().forEach((k, v) -> layers.put(String.valueOf(k), v.sparsity()));
        m.put("layers", layers);
        Map<String, Object> mods = new LinkedHashMap<>();
        modules.forEach((k, v) -> mods.put(k, v.sparsity()));
        m.put("modules", mods);
        return m;
    }
}
