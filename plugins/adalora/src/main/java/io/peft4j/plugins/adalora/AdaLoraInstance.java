package io.peft4j.plugins.adalora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import io.peft4j.api.AdapterInstance;
import io.peft4j.api.ConfigException;
import io.peft4j.api.ForwardContext;
import io.peft4j.api.ParamRole;
import io.peft4j.api.Parameter;
import io.peft4j.api.PeftKeys;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * An AdaLoRA adapter attached to a model. Saved keys (PEFT format, no {@code .weight}):
 * {@code base_model.model.<module>.lora_A [r', in]}, {@code ...lora_E [r', 1]}, {@code ...lora_B [out, r']}, where
 * {@code r'} is the number of triplets the current {@code rank_pattern} keeps for the module (all of them while
 * there is no pattern). {@code ranknum} is never saved.
 *
 * <p>The rank pattern evolves during training (written by the "adalora" rank allocator); {@link #config()} returns
 * the configuration with the current pattern, so a saved {@code adapter_config.json} carries it.
 */
final class AdaLoraInstance implements AdapterInstance {
    private final String name;
    private final AdaLoraConfig config;
    private final Map<String, AdaLoraLayer> layers;
    private Map<String, List<Boolean>> rankPattern;

    AdaLoraInstance(String name, AdaLoraConfig config, Map<String, AdaLoraLayer> layers) {
        this.name = name;
        this.config = config;
        this.layers = layers;
        this.rankPattern = config.rankPattern();
    }

    @Override
    public String name() {
        return name;
    }

    /** The configuration with the current rank pattern. */
    @Override
    public AdaLoraConfig config() {
        return config.withRankPattern(rankPattern);
    }

    @Override
    public Map<String, AdaLoraLayer> modules() {
        return layers;
    }

    /** The current rank pattern ({@code "<path>.lora_E"} to kept flags), or null before the first allocation. */
    Map<String, List<Boolean>> rankPattern() {
        return rankPattern;
    }

    /** Replaces the rank pattern (called by the rank allocator after each allocation). */
    void setRankPattern(Map<String, List<Boolean>> pattern) {
        Map<String, List<Boolean>> copy = new LinkedHashMap<>();
        pattern.forEach((k, v) -> copy.put(k, List.copyOf(v)));
        this.rankPattern = java.util.Collections.unmodifiableMap(copy);
    }

    /** In-memory names as PEFT's (parameters held directly in a dict: {@code ...lora_A.<adapter>}, no weight). */
    @Override
    public List<Parameter> parameters() {
        List<Parameter> out = new ArrayList<>();
        layers.forEach((path, l) -> {
            out.add(new Parameter(PeftKeys.inMemory(path, "lora_A", name, null), l.loraA(), ParamRole.DOWN, true));
            out.add(new Parameter(PeftKeys.inMemory(path, "lora_E", name, null), l.loraE(), ParamRole.RANK_SCALE,
                    true));
            out.add(new Parameter(PeftKeys.inMemory(path, "lora_B", name, null), l.loraB(), ParamRole.UP, true));
        });
        return out;
    }

    /**
     * The tensors to save, resized by the current rank pattern (PEFT's {@code resize_state_dict_by_rank_pattern}):
     * rows of A and E and columns of B where the module's mask is true. A module already held at its kept rank (a
     * loaded, resized adapter) is saved as it is. Resized tensors are new arrays owned by the adapter's manager.
     */
    @Override
    public Map<String, NDArray> stateDict() {
        Map<String, NDArray> out = new LinkedHashMap<>();
        layers.forEach((path, l) -> {
            List<Boolean> mask = rankPattern == null ? null : rankPattern.get(path + AdaLoraConfig.PATTERN_SUFFIX);
            long kept = mask == null ? l.rank() : mask.stream().filter(b -> b).count();
            if (mask == null || kept == l.rank()) {
                out.put(PeftKeys.saved(path, "lora_A"), l.loraA());
                out.put(PeftKeys.saved(path, "lora_E"), l.loraE());
                out.put(PeftKeys.saved(path, "lora_B"), l.loraB());
                return;
            }
            if (mask.size() != l.rank()) {
                throw new IllegalStateException("rank_pattern." + path + AdaLoraConfig.PATTERN_SUFFIX + " has "
                        + mask.size() + " entries but the module holds rank " + l.rank());
            }
            out.put(PeftKeys.saved(path, "lora_A"), selectRows(l.loraA(), mask));
            out.put(PeftKeys.saved(path, "lora_E"), selectRows(l.loraE(), mask));
            try (NDArray bt = l.loraB().transpose(); NDArray kept2 = selectRows(bt, mask)) {
                NDArray cols = kept2.transpose();
                NDArray b = cols.duplicate();
                cols.close();
                out.put(PeftKeys.saved(path, "lora_B"), b);
            }
        });
        return out;
    }

    /** The rows of {@code t} where {@code mask} is true, as a new array in {@code t}'s manager. */
    static NDArray selectRows(NDArray t, List<Boolean> mask) {
        long[] idx = new long[(int) mask.stream().filter(b -> b).count()];
        int n = 0;
        for (int i = 0; i < mask.size(); i++) {
            if (mask.get(i)) {
                idx[n++] = i;
            }
        }
        NDManager m = t.getManager();
        if (idx.length == 0) {
            return m.zeros(new Shape(0, t.getShape().get(1)), t.getDataType());
        }
        try (NDArray index = m.create(idx)) {
            return t.get(new NDIndex("{}", index));
        }
    }

    /**
     * Loads saved tensors into the modules in place. Each module expects the shapes it was built with: {@code init_r}
     * rows, or the kept rank of the configuration's {@code rank_pattern} (a resized PEFT adapter).
     */
    @Override
    public Set<String> loadStateDict(Map<String, NDArray> tensors) {
        Map<String, NDArray> expected = new LinkedHashMap<>();
        layers.forEach((path, l) -> {
            expected.put(PeftKeys.saved(path, "lora_A"), l.loraA());
            expected.put(PeftKeys.saved(path, "lora_E"), l.loraE());
            expected.put(PeftKeys.saved(path, "lora_B"), l.loraB());
        });
        for (Map.Entry<String, NDArray> e : expected.entrySet()) {
            NDArray src = tensors.get(e.getKey());
            String path = modulePath(e.getKey());
            AdaLoraLayer l = layers.get(path);
            if (src == null) {
                throw new ConfigException(e.getKey(), "missing from the adapter file (module " + path
                        + " needs shape " + e.getValue().getShape() + ")");
            }
            if (!src.getShape().equals(e.getValue().getShape())) {
                throw new ConfigException(e.getKey(), "shape " + src.getShape() + " in the adapter file does not match "
                        + "module " + path + " [out=" + l.site().outFeatures() + ", in=" + l.site().inFeatures()
                        + ", rank " + l.rank() + "], which needs " + e.getValue().getShape());
            }
        }
        for (Map.Entry<String, NDArray> e : expected.entrySet()) {
            AdaLoraLayer.copyInto(e.getValue(), tensors.get(e.getKey()));
        }
        return new HashSet<>(expected.keySet());
    }

    private String modulePath(String key) {
        for (String path : layers.keySet()) {
            if (key.startsWith(PeftKeys.MODEL_PREFIX + path + ".")) {
                return path;
            }
        }
        return key;
    }

    /**
     * AdaLoRA's orthogonal regulariser (PEFT {@code AdaLoraModel.forward}), in training only:
     * {@code orth_reg_weight · mean over all lora_A and lora_B of ||A A^T - I||_F resp. ||B^T B - I||_F}; the mean
     * counts two matrices per module (modules of rank 0 contribute 0). Empty when {@code orth_reg_weight == 0}.
     */
    @Override
    public Optional<NDArray> auxiliaryLoss(ForwardContext ctx) {
        if (!ctx.training() || config.orthRegWeight() == 0 || layers.isEmpty()) {
            return Optional.empty();
        }
        NDManager m = ctx.manager();
        NDArray sum = null;
        int count = 0;
        for (AdaLoraLayer l : layers.values()) {
            count += 2;
            if (l.rank() == 0) {
                continue;
            }
            NDArray ra = frobeniusFromIdentity(l.loraA().matMul(l.loraA().transpose()), m);
            NDArray rb = frobeniusFromIdentity(l.loraB().transpose().matMul(l.loraB()), m);
            NDArray both = ra.add(rb);
            sum = sum == null ? both : sum.add(both);
        }
        if (sum == null) {
            return Optional.empty();
        }
        return Optional.of(sum.div(ctx.scalar(count)).mul(ctx.scalar(config.orthRegWeight())));
    }

    /** {@code ||cov - I||_F}; {@code cov} is a temporary moved to the pass manager. */
    private static NDArray frobeniusFromIdentity(NDArray cov, NDManager m) {
        cov.attach(m);
        NDArray eye = m.eye((int) cov.getShape().get(0));
        return cov.sub(eye).square().sum().sqrt();
    }
}
