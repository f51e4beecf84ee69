package io.peft4j.plugins.bottleneck;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import io.peft4j.api.AdapterConfig;
import io.peft4j.api.ConfigException;
import io.peft4j.api.TargetSpec;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Bottleneck-adapter hyper-parameters. Hugging Face PEFT has no bottleneck adapter, so this is a peft4j format
 * ({@code peft_type "BOTTLENECK"}); the key names follow the AdapterHub / PEFT naming style.
 *
 * @param adapterPlacement  sub-layers whose output gets an adapter: {@code attention} (the self-attention block,
 *                          {@code model.layers.N.self_attn}) and/or {@code mlp} (the feed-forward block,
 *                          {@code model.layers.N.mlp}). Default {@code [mlp]} (Pfeiffer); {@code [attention, mlp]}
 *                          is Houlsby's placement
 * @param reductionFactor   bottleneck width = {@code hidden_size / reduction_factor} (default 16, at least 1)
 * @param bottleneckSize    explicit bottleneck width; overrides {@code reduction_factor} when set
 * @param nonLinearity      {@code relu} (default), {@code gelu} or {@code silu}
 * @param adapterDropout    dropout on the adapter input in training (default 0)
 * @param scaling           factor on the adapter's output before the residual add (default 1)
 * @param layersToTransform keep only these decoder layer indices (int or list)
 * @param taskType          informational, e.g. {@code CAUSAL_LM}
 * @param baseModelNameOrPath informational
 */
public record BottleneckConfig(
        @JsonProperty("adapter_placement") List<String> adapterPlacement,
        @JsonProperty("reduction_factor") Integer reductionFactor,
        @JsonProperty("bottleneck_size") Integer bottleneckSize,
        @JsonProperty("non_linearity") String nonLinearity,
        @JsonProperty("adapter_dropout") Double adapterDropout,
        @JsonProperty("scaling") Double scaling,
        @JsonProperty("layers_to_transform") Object layersToTransform,
        @JsonProperty("task_type") String taskType,
        @JsonProperty("base_model_name_or_path") String baseModelNameOrPath) implements AdapterConfig {

    /** Placement name -> the last path component of the SUBLAYER_OUTPUT site it selects. */
    static final Map<String, String> PLACEMENTS = placements();
    static final List<String> NON_LINEARITIES = List.of("relu", "gelu", "silu");

    public BottleneckConfig {
        adapterPlacement = adapterPlacement == null ? List.of("mlp") : List.copyOf(adapterPlacement);
        reductionFactor = reductionFactor == null ? 16 : reductionFactor;
        nonLinearity = nonLinearity == null ? "relu" : nonLinearity;
        adapterDropout = adapterDropout == null ? 0.0 : adapterDropout;
        scaling = scaling == null ? 1.0 : scaling;
    }

    private static Map<String, String> placements() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("attention", "self_attn");
        m.put("mlp", "mlp");
        return m;
    }

    /** A config with defaults and the given placement. */
    public static BottleneckConfig of(List<String> placement, Integer bottleneckSize) {
        return new BottleneckConfig(placement, null, bottleneckSize, null, null, null, null, null, null);
    }

    /** The bottleneck width for a model of the given hidden size. */
    public int width(int hiddenSize) {
        return bottleneckSize != null ? bottleneckSize : Math.max(1, hiddenSize / reductionFactor);
    }

    /**
     * The targets follow from the placement: a full-match regex over the decoder layers' sub-layer paths, e.g.
     * {@code model\.layers\.\d+\.(?:mlp)}.
     */
    @Override
    @JsonIgnore
    public TargetSpec targetSpec() {
        List<String> parts = new ArrayList<>();
        for (String p : adapterPlacement) {
            String part = PLACEMENTS.get(p);
            parts.add(part == null ? java.util.regex.Pattern.quote(p) : part);
        }
        String regex = "model\\.layers\\.\\d+\\.(?:" + String.join("|", parts) + ")";
        return new TargetSpec(null, regex, false, null, null, layerList(), null);
    }

    @Override
    public void validate() {
        if (adapterPlacement.isEmpty()) {
            throw new ConfigException("adapter_placement", "must name at least one sub-layer; valid: "
                    + PLACEMENTS.keySet());
        }
        for (String p : adapterPlacement) {
            if (!PLACEMENTS.containsKey(p)) {
                throw new ConfigException("adapter_placement", "\"" + p + "\" is not a sub-layer of this "
                        + "architecture (a Llama decoder layer has an attention and an MLP block); valid placements: "
                        + PLACEMENTS.keySet());
            }
        }
        if (adapterPlacement.stream().distinct().count() != adapterPlacement.size()) {
            throw new ConfigException("adapter_placement", "lists a sub-layer twice: " + adapterPlacement);
        }
        if (reductionFactor <= 0) {
            throw new ConfigException("reduction_factor", "must be a positive integer, got " + reductionFactor);
        }
        if (bottleneckSize != null && bottleneckSize <= 0) {
            throw new ConfigException("bottleneck_size", "must be a positive integer, got " + bottleneckSize);
        }
        if (!NON_LINEARITIES.contains(nonLinearity)) {
            throw new ConfigException("non_linearity", "expected one of " + NON_LINEARITIES + ", got \""
                    + nonLinearity + "\"");
        }
        if (!(adapterDropout >= 0.0 && adapterDropout < 1.0)) {
            throw new ConfigException("adapter_dropout", "must be in [0, 1), got " + adapterDropout);
        }
        if (!Double.isFinite(scaling)) {
            throw new ConfigException("scaling", "must be a finite number, got " + scaling);
        }
        layerList();
    }

    private List<Integer> layerList() {
        return TargetSpec.layersFromPeft(layersToTransform);
    }
}
