package io.peft4j.core.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peft4j.api.ConfigException;
import io.peft4j.api.ModelShape;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The architecture of a Llama-like model as read from a Hugging Face {@code config.json}. Supported model types:
 * {@link #SUPPORTED_MODEL_TYPES} (same module layout and math: RMSNorm, rotate-half RoPE, GQA, SwiGLU).
 *
 * @param modelType             {@code model_type}
 * @param hiddenSize            {@code hidden_size}
 * @param intermediateSize      {@code intermediate_size}
 * @param numAttentionHeads     {@code num_attention_heads}
 * @param numKeyValueHeads      {@code num_key_value_heads} (default: attention heads)
 * @param headDim               {@code head_dim} (default: hidden / heads)
 * @param numHiddenLayers       {@code num_hidden_layers}
 * @param vocabSize             {@code vocab_size}
 * @param maxPositionEmbeddings {@code max_position_embeddings}
 * @param rmsNormEps            {@code rms_norm_eps} (default 1e-6)
 * @param ropeTheta             {@code rope_theta} (default 10000)
 * @param ropeScaling           {@code rope_scaling}, null for plain RoPE
 * @param attentionBias         {@code attention_bias}: q/k/v/o carry a bias (Qwen2 has q/k/v biases without the flag,
 *                              see {@link LlamaSiteLayout})
 * @param mlpBias               {@code mlp_bias}
 * @param tieWordEmbeddings     {@code tie_word_embeddings} (default false; lm_head shares the embedding when true)
 * @param bosTokenId            {@code bos_token_id}, or -1 when absent
 * @param eosTokenIds           {@code eos_token_id} (an int or a list), possibly empty
 * @param torchDtype            {@code torch_dtype} (informational; weights are computed in float32), or null
 */
public record LlamaConfig(String modelType, int hiddenSize, int intermediateSize, int numAttentionHeads,
                          int numKeyValueHeads, int headDim, int numHiddenLayers, int vocabSize,
                          int maxPositionEmbeddings, double rmsNormEps, double ropeTheta, RopeScaling ropeScaling,
                          boolean attentionBias, boolean mlpBias, boolean tieWordEmbeddings, int bosTokenId,
                          List<Integer> eosTokenIds, String torchDtype) {

    public static final Set<String> SUPPORTED_MODEL_TYPES = Set.of("llama", "mistral", "qwen2");
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * RoPE frequency scaling. {@code linear}: {@code inv_freq / factor}. {@code llama3}: Llama 3.1's smooth
     * per-frequency scaling with {@code low_freq_factor}, {@code high_freq_factor} and
     * {@code original_max_position_embeddings}.
     */
    public record RopeScaling(String type, double factor, double lowFreqFactor, double highFreqFactor,
                              int originalMaxPositionEmbeddings) {
    }

    public LlamaConfig {
        eosTokenIds = List.copyOf(eosTokenIds);
        if (hiddenSize <= 0 || intermediateSize <= 0 || numAttentionHeads <= 0 || numKeyValueHeads <= 0
                || headDim <= 0 || numHiddenLayers <= 0 || vocabSize <= 0 || maxPositionEmbeddings <= 0) {
            throw new ConfigException("", "config.json: sizes must be positive, got " + this);
        }
        if (numAttentionHeads % numKeyValueHeads != 0) {
            throw new ConfigException("num_key_value_heads", "config.json: num_attention_heads (" + numAttentionHeads
                    + ") must be a multiple of num_key_value_heads (" + numKeyValueHeads + ")");
        }
        if (headDim % 2 != 0) {
            throw new ConfigException("head_dim", "config.json: head_dim must be even for rotary embeddings, got " + headDim);
        }
    }

    /** Reads {@code config.json}. */
    public static LlamaConfig load(Path configJson) {
        String text;
        try {
            text = Files.readString(configJson);
        } catch (NoSuchFileException e) {
            throw new ConfigException("", configJson + ": config.json not found");
        } catch (IOException e) {
            throw new ConfigException("", configJson + ": cannot read config.json: " + e.getMessage());
        }
        return parse(text, configJson.toString());
    }

    /** Parses config.json text; {@code source} names the file in error messages (e.g. its path). */
    public static LlamaConfig parse(String json, String source) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (IOException e) {
            throw new ConfigException("", source + ": not valid JSON: " + e.getMessage());
        }
        if (root == null || !root.isObject()) {
            throw new ConfigException("", source + ": must be a JSON object");
        }
        Reader r = new Reader(root, source);
        String modelType = r.string("model_type", null);
        if (modelType == null) {
            throw new ConfigException("model_type", source + ": required field 'model_type' is missing (expected one of "
                    + SUPPORTED_MODEL_TYPES + ")");
        }
        if (!SUPPORTED_MODEL_TYPES.contains(modelType)) {
            throw new ConfigException("model_type", source + ": model_type '" + modelType
                    + "' is not supported (expected one of " + SUPPORTED_MODEL_TYPES + ")");
        }
        String act = r.string("hidden_act", "silu");
        if (!act.equals("silu")) {
            throw new ConfigException("hidden_act", source + ": hidden_act '" + act + "' is not supported (expected silu)");
        }
        // Every size is checked (positive, dividing, products in range) before it is used in any arithmetic or
        // allocation, so a malformed file fails naming the field instead of with a JDK exception.
        int hidden = r.positiveInt("hidden_size", null);
        int heads = r.positiveInt("num_attention_heads", null);
        int kvHeads = r.positiveInt("num_key_value_heads", heads);
        if (heads % kvHeads != 0) {
            throw new ConfigException("num_key_value_heads", source + ": num_attention_heads (" + heads
                    + ") must be a multiple of num_key_value_heads (" + kvHeads + ")");
        }
        if (r.get("head_dim") == null && hidden % heads != 0) {
            throw new ConfigException("num_attention_heads", source + ": hidden_size (" + hidden + ") must be a "
                    + "multiple of num_attention_heads (" + heads + ") when head_dim is not given");
        }
        int headDim = r.positiveInt("head_dim", hidden / heads);
        if (headDim % 2 != 0) {
            throw new ConfigException("head_dim", source + ": head_dim must be even for rotary embeddings, got "
                    + headDim);
        }
        if ((long) heads * headDim > Integer.MAX_VALUE) {
            throw new ConfigException("head_dim", source + ": num_attention_heads x head_dim = " + heads + " x "
                    + headDim + " exceeds " + Integer.MAX_VALUE);
        }
        int intermediate = r.positiveInt("intermediate_size", null);
        int layers = r.positiveInt("num_hidden_layers", null);
        int vocab = r.positiveInt("vocab_size", null);
        int maxPos = r.positiveInt("max_position_embeddings", null);
        double eps = r.optDouble("rms_norm_eps", 1e-6);
        if (!(eps > 0) || !Double.isFinite(eps)) {
            throw new ConfigException("rms_norm_eps", source + ": rms_norm_eps must be a positive number, got " + eps);
        }
        double theta = r.optDouble("rope_theta", 10000.0);
        if (!(theta > 0) || !Double.isFinite(theta)) {
            throw new ConfigException("rope_theta", source + ": rope_theta must be a positive number, got " + theta);
        }
        return new LlamaConfig(modelType, hidden, intermediate, heads, kvHeads, headDim,
                layers, vocab, maxPos, eps,
                theta, ropeScaling(root.get("rope_scaling"), source),
                r.optBool("attention_bias", false), r.optBool("mlp_bias", false),
                r.optBool("tie_word_embeddings", false), r.optInt("bos_token_id", -1), eos(root, source),
                r.string("torch_dtype", null));
    }

    private static List<Integer> eos(JsonNode root, String source) {
        JsonNode e = root.get("eos_token_id");
        List<Integer> out = new ArrayList<>();
        if (e == null || e.isNull()) {
            return out;
        }
        if (e.isInt()) {
            out.add(e.asInt());
        } else if (e.isArray()) {
            for (JsonNode x : e) {
                if (!x.isInt()) {
                    throw new ConfigException("eos_token_id", source + ": eos_token_id list must hold integers, got " + e);
                }
                out.add(x.asInt());
            }
        } else {
            throw new ConfigException("eos_token_id", source + ": eos_token_id must be an integer or a list of integers, got "
                    + e);
        }
        return out;
    }

    private static RopeScaling ropeScaling(JsonNode n, String source) {
        if (n == null || n.isNull()) {
            return null;
        }
        if (!n.isObject()) {
            throw new ConfigException("rope_scaling", source + ": rope_scaling must be an object or null, got " + n);
        }
        JsonNode t = n.has("rope_type") ? n.get("rope_type") : n.get("type");
        String type = t == null ? null : t.asText();
        if (type == null || type.equals("default")) {
            return null;
        }
        Reader r = new Reader(n, source + " (rope_scaling)");
        switch (type) {
            case "linear":
                return new RopeScaling(type, positive(r, "factor", source), 0, 0, 0);
            case "llama3": {
                double low = positive(r, "low_freq_factor", source);
                double high = positive(r, "high_freq_factor", source);
                if (!(high > low)) {
                    throw new ConfigException("rope_scaling.high_freq_factor", source + ": rope_scaling "
                            + "high_freq_factor (" + high + ") must be larger than low_freq_factor (" + low + ")");
                }
                return new RopeScaling(type, positive(r, "factor", source), low, high,
                        r.positiveInt("original_max_position_embeddings", null));
            }
            default:
                throw new ConfigException("rope_scaling", source + ": rope_scaling type '" + type
                        + "' is not supported (supported: null, default, linear, llama3)");
        }
    }

    private static double positive(Reader r, String f, String source) {
        double v = r.requiredDouble(f);
        if (!(v > 0) || !Double.isFinite(v)) {
            throw new ConfigException("rope_scaling." + f, source + ": rope_scaling " + f
                    + " must be a positive number, got " + v);
        }
        return v;
    }

    /** The numbers adapters need. */
    public ModelShape shape() {
        return new ModelShape(hiddenSize, numHiddenLayers, numAttentionHeads, numKeyValueHeads, headDim, vocabSize,
                maxPositionEmbeddings);
    }

    /**
     * Inverse frequencies {@code theta^(-2i/d)} for {@code i < d/2}, computed in float32 as transformers does,
     * with {@link #ropeScaling} applied.
     */
    public float[] ropeInverseFrequencies() {
        int half = headDim / 2;
        float[] inv = new float[half];
        for (int i = 0; i < half; i++) {
            float exponent = (float) (2 * i) / headDim;
            inv[i] = (float) (1.0 / (float) Math.pow(ropeTheta, exponent));
        }
        if (ropeScaling == null) {
            return inv;
        }
        if (ropeScaling.type().equals("linear")) {
            for (int i = 0; i < half; i++) {
                inv[i] = (float) (inv[i] / ropeScaling.factor());
            }
            return inv;
        }
        // llama3 (transformers _compute_llama3_parameters)
        double factor = ropeScaling.factor();
        double low = ropeScaling.lowFreqFactor();
        double high = ropeScaling.highFreqFactor();
        double oldCtx = ropeScaling.originalMaxPositionEmbeddings();
        double lowWavelen = oldCtx / low;
        double highWavelen = oldCtx / high;
        for (int i = 0; i < half; i++) {
            double f = inv[i];
            double wavelen = 2 * Math.PI / f;
            double scaled = wavelen > lowWavelen ? f / factor : f;
            if (!(wavelen < highWavelen) && !(wavelen > lowWavelen)) {
                double smooth = (oldCtx / wavelen - low) / (high - low);
                scaled = (1 - smooth) * scaled / factor + smooth * scaled;
            }
            inv[i] = (float) scaled;
        }
        return inv;
    }

    /** Field access with messages naming the file and field. */
    private static final class Reader {
        private final JsonNode node;
        private final String source;

        Reader(JsonNode node, String source) {
            this.node = node;
            this.source = source;
        }

        /** A required (dflt null) or optional integer field that must be &gt; 0. */
        int positiveInt(String f, Integer dflt) {
            int v = dflt == null ? requiredInt(f) : optInt(f, dflt);
            if (v <= 0) {
                throw new ConfigException(f, source + ": field '" + f + "' must be a positive integer, got " + v);
            }
            return v;
        }

        JsonNode get(String f) {
            JsonNode v = node.get(f);
            return v == null || v.isNull() ? null : v;
        }

        int requiredInt(String f) {
            JsonNode v = get(f);
            if (v == null) {
                throw new ConfigException(f, source + ": required field '" + f + "' is missing");
            }
            return asInt(f, v);
        }

        int optInt(String f, int dflt) {
            JsonNode v = get(f);
            return v == null ? dflt : asInt(f, v);
        }

        private int asInt(String f, JsonNode v) {
            if (!v.isIntegralNumber() || !v.canConvertToInt()) {
                throw new ConfigException(f, source + ": field '" + f + "' must be an integer, got " + v);
            }
            return v.asInt();
        }

        double requiredDouble(String f) {
            JsonNode v = get(f);
            if (v == null) {
                throw new ConfigException(f, source + ": required field '" + f + "' is missing");
            }
            return asDouble(f, v);
        }

        double optDouble(String f, double dflt) {
            JsonNode v = get(f);
            return v == null ? dflt : asDouble(f, v);
        }

        private double asDouble(String f, JsonNode v) {
            if (!v.isNumber()) {
                throw new ConfigException(f, source + ": field '" + f + "' must be a number, got " + v);
            }
            return v.asDouble();
        }

        boolean optBool(String f, boolean dflt) {
            JsonNode v = get(f);
            if (v == null) {
                return dflt;
            }
            if (!v.isBoolean()) {
                throw new ConfigException(f, source + ": field '" + f + "' must be true or false, got " + v);
            }
            return v.asBoolean();
        }

        String string(String f, String dflt) {
            JsonNode v = get(f);
            if (v == null) {
                return dflt;
            }
            if (!v.isTextual()) {
                throw new ConfigException(f, source + ": field '" + f + "' must be a string, got " + v);
            }
            return v.asText();
        }
    }
}
