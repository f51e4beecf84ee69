package io.peft4j.core.prune;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.BaseWeight;
import io.peft4j.api.ConfigException;
import io.peft4j.core.config.RunConfig.PruningSection;
import io.peft4j.core.model.LlamaConfig;
import io.peft4j.core.model.LlamaModel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Prunes the base linears of a Llama model and returns the masks it applied.
 *
 * <ul>
 *   <li>{@code magnitude}: per targeted module ({@code per_layer}) or over all targeted modules ({@code global}),
 *       exactly {@code k = floor(sparsity · n)} weights with the smallest {@code |w|} become zero (ties broken by
 *       position, so the count is exact);</li>
 *   <li>{@code mlp_channels}: channel {@code c} of a layer's MLP is row {@code c} of {@code gate_proj} and
 *       {@code up_proj} and column {@code c} of {@code down_proj}; its score is the sum of those three L2 norms;
 *       the {@code round(sparsity · intermediate_size)} lowest-scoring channels of each layer ({@code per_layer}), or
 *       that share of all layers' channels ({@code global}), are removed;</li>
 *   <li>{@code heads}: the unit is a grouped-query group - key/value head {@code g} with its
 *       {@code heads / kv_heads} query heads: their rows of {@code q_proj}, {@code k_proj}, {@code v_proj} and
 *       columns of {@code o_proj}; scored and removed like channels.</li>
 * </ul>
 * Structured pruning that would remove every channel (or head group) of a layer is refused with a
 * {@link ConfigException} naming {@code pruning.sparsity}, since that layer's block would then output nothing.
 */
public final class Pruner {
    private static final List<String> MLP = List.of("gate_proj", "up_proj", "down_proj");
    private Pruner() {
    }

    /** Linear paths pruning may touch, in model order. */
    public static List<String> targetPaths(LlamaConfig c, PruningSection spec) {
        List<String> out = new ArrayList<>();
        List<String> names = switch (spec.method()) {
            case "mlp_channels" -> List.of("gate_proj", "up_proj", "down_proj");
            case "heads" -> List.of("q_proj", "k_proj", "v_proj", "o_proj");
            default -> spec.targets();
        };
        for (int l : layers(c, spec)) {
            for (String n : PruningSection.LINEARS) {
                if (names.contains(n)) {
                    String block = MLP.contains(n) ? ".mlp." : ".self_attn.";
                    out.add("model.layers." + l + block + n);
                }
            }
        }
        return out;
    }

    private static List<Integer> layers(LlamaConfig c, PruningSection spec) {
        if (spec.layers() == null) {
            List<Integer> all = new ArrayList<>();
            for (int i = 0; i < c.numHiddenLayers(); i++) {
                all.add(i);
            }
            return all;
        }
        for (int l : spec.layers()) {
            if (l < 0 || l >= c.numHiddenLayers()) {
                throw new ConfigException("pruning.layers", "layer " + l + " does not exist; the model has layers 0.."
                        + (c.numHiddenLayers() - 1));
            }
        }
        return spec.layers();
    }

    /**
     * Checks what can be checked from {@code config.json} alone (layers exist; per-layer structured pruning keeps
     * at least one unit per layer).
     */
    public static void validate(LlamaConfig c, PruningSection spec) {
        layers(c, spec);
        if (spec.scope().equals("per_layer")) {
            int units = spec.method().equals("mlp_channels") ? c.intermediateSize()
                    : spec.method().equals("heads") ? c.numKeyValueHeads() : -1;
            if (units > 0) {
                checkKeepsOne(removed(spec.sparsity(), units), units, spec, "every layer");
            }
        }
    }

    private static int removed(double sparsity, int units) {
        return (int) Math.round(sparsity * units);
    }

    private static void checkKeepsOne(int removed, int units, PruningSection spec, String where) {
        if (removed >= units) {
            String unit = spec.method().equals("heads") ? "key/value head groups" : "MLP channels";
            throw new ConfigException("pruning.sparsity", spec.sparsity() + " would remove all " + units + " " + unit
                    + " of " + where + " (" + spec.method() + " removes round(sparsity x " + units + ") = " + removed
                    + "); use a lower sparsity");
        }
    }

    /** Prunes the model's base weights in place (replacing the weight tensors) and returns the masks. */
    public static PruningMasks prune(LlamaModel model, PruningSection spec) {
        spec.validate();
        LlamaConfig c = model.config();
        validate(c, spec);
        Map<String, NDArray> masks = switch (spec.method()) {
            case "magnitude" -> magnitude(model, spec);
            case "mlp_channels" -> structured(model, spec, false);
            case "heads" -> structured(model, spec, true);
            default -> throw new IllegalStateException(spec.method());
        };
        PruningMasks pm = new PruningMasks(masks);
        pm.apply(model, null);
        return pm;
    }

    // ------------------------------------------------------------------------------------------------ magnitude

    private static Map<String, NDArray> magnitude(LlamaModel model, PruningSection spec) {
        List<String> paths = targetPaths(model.config(), spec);
        NDManager m = model.manager();
        Map<String, NDArray> masks = new LinkedHashMap<>();
        if (spec.scope().equals("global")) {
            List<float[]> all = new ArrayList<>();
            int total = 0;
            for (String p : paths) {
                float[] a = abs(model, p);
                all.add(a);
                total += a.length;
            }
            float[] flat = new float[total];
            int off = 0;
            for (float[] a : all) {
                System.arraycopy(a, 0, flat, off, a.length);
                off += a.length;
            }
            boolean[] drop = smallest(flat, (int) Math.floor(spec.sparsity() * total));
            off = 0;
            for (int i = 0; i < paths.size(); i++) {
                int n = all.get(i).length;
                masks.put(paths.get(i), mask(m, model, paths.get(i), Arrays.copyOfRange(drop, off, off + n)));
                off += n;
            }
        } else {
            for (String p : paths) {
                float[] a = abs(model, p);
                masks.put(p, mask(m, model, p, smallest(a, (int) Math.floor(spec.sparsity() * a.length))));
            }
        }
        return masks;
    }

    private static float[] abs(LlamaModel model, String path) {
        var l = model.linear(path);
        try (BaseWeight w = l.weight(); NDArray a = w.array().abs()) {
            return a.toFloatArray();
        }
    }

    /** Marks exactly {@code k} positions with the smallest values (ties: lower position first). */
    static boolean[] smallest(float[] values, int k) {
        boolean[] drop = new boolean[values.length];
        if (k <= 0) {
            return drop;
        }
        Integer[] order = new Integer[values.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (x, y) -> {
            int c = Float.compare(values[x], values[y]);
            return c != 0 ? c : Integer.compare(x, y);
        });
        for (int i = 0; i < k; i++) {
            drop[order[i]] = true;
        }
        return drop;
    }

    private static NDArray mask(NDManager m, LlamaModel model, String path, boolean[] drop) {
        float[] keep = new float[drop.length];
        for (int i = 0; i < drop.length; i++) {
            keep[i] = drop[i] ? 0f : 1f;
        }
        var site = model.linear(path).site();
        return m.create(keep, new Shape(site.outFeatures(), site.inFeatures()));
    }

    // ------------------------------------------------------------------------------------------------ structured

    /** Scores of the units of one layer: per unit the summed L2 norms of its rows / columns. */
    private static double[] scores(LlamaModel model, int layer, boolean heads) {
        LlamaConfig c = model.config();
        if (!heads) {
            String p = "model.layers." + layer + ".mlp.";
            double[] gate = rowNorms(model, p + "gate_proj", 1, false);
            double[] up = rowNorms(model, p + "up_proj", 1, false);
            double[] down = rowNorms(model, p + "down_proj", 1, true);
            double[] s = new double[c.intermediateSize()];
            for (int i = 0; i < s.length; i++) {
                s[i] = gate[i] + up[i] + down[i];
            }
            return s;
        }
        int hd = c.headDim();
        int rep = c.numAttentionHeads() / c.numKeyValueHeads();
        String p = "model.layers." + layer + ".self_attn.";
        double[] q = rowNorms(model, p + "q_proj", hd * rep, false);
        double[] k = rowNorms(model, p + "k_proj", hd, false);
        double[] v = rowNorms(model, p + "v_proj", hd, false);
        double[] o = rowNorms(model, p + "o_proj", hd * rep, true);
        double[] s = new double[c.numKeyValueHeads()];
        for (int g = 0; g < s.length; g++) {
            s[g] = q[g] + k[g] + v[g] + o[g];
        }
        return s;
    }

    /**
     * L2 norms of consecutive blocks of {@code block} rows (or columns when {@code columns}) of a weight
     * {@code [out, in]}.
     */
    private static double[] rowNorms(LlamaModel model, String path, int block, boolean columns) {
        var l = model.linear(path);
        int out = l.site().outFeatures();
        int in = l.site().inFeatures();
        float[] a = l.withWeight(NDArray::toFloatArray);
        int units = (columns ? in : out) / block;
        double[] sq = new double[units];
        for (int r = 0; r < out; r++) {
            for (int col = 0; col < in; col++) {
                float x = a[r * in + col];
                sq[(columns ? col : r) / block] += (double) x * x;
            }
        }
        for (int i = 0; i < units; i++) {
            sq[i] = Math.sqrt(sq[i]);
        }
        return sq;
    }

    private static Map<String, NDArray> structured(LlamaModel model, PruningSection spec, boolean heads) {
        LlamaConfig c = model.config();
        List<Integer> layers = layers(c, spec);
        int units = heads ? c.numKeyValueHeads() : c.intermediateSize();
        Map<Integer, boolean[]> removedByLayer = new LinkedHashMap<>();
        if (spec.scope().equals("global")) {
            float[] flat = new float[units * layers.size()];
            for (int i = 0; i < layers.size(); i++) {
                double[] s = scores(model, layers.get(i), heads);
                for (int u = 0; u < units; u++) {
                    flat[i * units + u] = (float) s[u];
                }
            }
            boolean[] drop = smallest(flat, removed(spec.sparsity(), flat.length));
            for (int i = 0; i < layers.size(); i++) {
                boolean[] d = Arrays.copyOfRange(drop, i * units, (i + 1) * units);
                int n = 0;
                for (boolean b : d) {
                    n += b ? 1 : 0;
                }
                checkKeepsOne(n, units, spec, "layer " + layers.get(i) + " (global ranking)");
                removedByLayer.put(layers.get(i), d);
            }
        } else {
            for (int l : layers) {
                double[] s = scores(model, l, heads);
                float[] f = new float[s.length];
                for (int u = 0; u < s.length; u++) {
                    f[u] = (float) s[u];
                }
                int n = removed(spec.sparsity(), units);
                checkKeepsOne(n, units, spec, "layer " + l);
                removedByLayer.put(l, smallest(f, n));
            }
        }
        Map<String, NDArray> masks = new LinkedHashMap<>();
        for (Map.Entry<Integer, boolean[]> e : removedByLayer.entrySet()) {
            int l = e.getKey();
            boolean[] d = e.getValue();
            if (heads) {
                int hd = c.headDim();
                int rep = c.numAttentionHeads() / c.numKeyValueHeads();
                String p = "model.layers." + l + ".self_attn.";
                masks.put(p + "q_proj", unitMask(model, p + "q_proj", d, hd * rep, false));
                masks.put(p + "k_proj", unitMask(model, p + "k_proj", d, hd, false));
                masks.put(p + "v_proj", unitMask(model, p + "v_proj", d, hd, false));
                masks.put(p + "o_proj", unitMask(model, p + "o_proj", d, hd * rep, true));
            } else {
                String p = "model.layers." + l + ".mlp.";
                masks.put(p + "gate_proj", unitMask(model, p + "gate_proj", d, 1, false));
                masks.put(p + "up_proj", unitMask(model, p + "up_proj", d, 1, false));
                masks.put(p + "down_proj", unitMask(model, p + "down_proj", d, 1, true));
            }
        }
        return masks;
    }

    private static NDArray unitMask(LlamaModel model, String path, boolean[] dropUnit, int block, boolean columns) {
        var site = model.linear(path).site();
        int out = site.outFeatures();
        int in = site.inFeatures();
        boolean[] drop = new boolean[out * in];
        for (int r = 0; r < out; r++) {
            for (int col = 0; col < in; col++) {
                drop[r * in + col] = dropUnit[(columns ? col : r) / block];
            }
        }
        return mask(model.manager(), model, path, drop);
    }
}
