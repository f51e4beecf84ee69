package io.peft4j.core.peft;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import io.peft4j.api.ConfigException;
import io.peft4j.core.model.AdaptableLinear;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.LongStream;

/**
 * Full copies of the embedding and lm_head base weights that Hugging Face PEFT writes into an adapter file beside the
 * adapter tensors ({@code save_embedding_layers}: automatically when {@code embed_tokens} or {@code lm_head} is in
 * {@code target_modules}, or when the vocabulary was resized). PEFT loads them back into the base model. peft4j does
 * not replace base weights from an adapter file, so such a copy is accepted when it equals the base it is loaded
 * onto (the usual case: LoRA on lm_head of the same base) and refused with a clear error when it does not (a resized
 * or retrained embedding, or another base model).
 */
final class EmbeddingLayerCopies {
    /** PEFT's saved names: {@code base_model.model.<module>[.base_layer].weight} for embed_tokens and lm_head. */
    private static final Pattern KEY = Pattern.compile(
            "base_model\\.model\\.(model\\.embed_tokens|lm_head)(\\.base_layer)?\\.weight");
    static final String LM_HEAD = "lm_head";

    private EmbeddingLayerCopies() {
    }

    /**
     * The keys among {@code candidates} that are such copies equal to the current base.
     *
     * @throws ConfigException naming the file and key when a copy has another shape or other values than the base
     */
    static Set<String> acceptIdentical(AdapterHost host, Map<String, NDArray> tensors, Set<String> candidates,
                                       Path file) {
        Set<String> accepted = new HashSet<>();
        for (String key : candidates) {
            Matcher m = KEY.matcher(key);
            if (!m.matches()) {
                continue;
            }
            NDArray saved = tensors.get(key).toType(DataType.FLOAT32, false);
            NDArray base = m.group(1).equals(LM_HEAD) ? lmHead(host)
                    : host.embed(LongStream.range(0, host.shape().vocabSize()).toArray());
            if (base == null) {
                continue;
            }
            // Work on the load's temporary manager (the saved tensors'), so nothing stays on the model's.
            base.attach(saved.getManager());
            String what = m.group(1) + "'s base weight (PEFT's save_embedding_layers)";
            if (!saved.getShape().equals(base.getShape())) {
                throw new ConfigException(file + ": " + key, "a copy of " + what + " with shape " + saved.getShape()
                        + ", but this model's is " + base.getShape() + " (a resized vocabulary or another base model)");
            }
            float diff = saved.sub(base).abs().max().getFloat();
            float scale = Math.max(1f, base.abs().max().getFloat());
            if (!(diff <= 1e-6f * scale)) {
                throw new ConfigException(file + ": " + key, "a copy of " + what + " that differs from this "
                        + "model's by up to " + diff + "; peft4j does not replace base weights from an adapter file "
                        + "(load the base that was trained, e.g. a merged or resized checkpoint)");
            }
            accepted.add(key);
        }
        return accepted;
    }

    private static NDArray lmHead(AdapterHost host) {
        for (var s : host.sites()) {
            if (s.path().equals(LM_HEAD)) {
                AdaptableLinear head = host.linear(LM_HEAD);
                return head.withWeight(NDArray::duplicate);
            }
        }
        return null;
    }
}
