package io.peft4j.plugins.loraplus;

import io.peft4j.api.ConfigException;
import io.peft4j.api.OptimizerPolicy;
import io.peft4j.api.OptimizerSettings;
import io.peft4j.api.ParamGroup;
import io.peft4j.api.ParamRole;
import io.peft4j.api.Parameter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.pf4j.Extension;

/**
 * LoRA+ parameter groups, in PEFT's order, with {@code lr} the configured learning rate:
 * <pre>
 *   groupA           lr                       weight decay wd       everything not below (DOWN, 2-D DENSE ...)
 *   embedding        loraplus_lr_embedding    wd                    EMBEDDING_DOWN / EMBEDDING_UP
 *   groupB           lr · loraplus_lr_ratio   wd                    UP role, or any 1-D tensor, that decays
 *   groupB_no_decay  lr · loraplus_lr_ratio   0                     the same, for {@link Parameter#noDecay()}
 * </pre>
 * with {@code wd = loraplus_weight_decay}. PEFT's rule "{@code lora_B} in the name or {@code ndim == 1}" is read
 * from roles: the UP role stands for {@code lora_B}, so DoRA magnitudes, {@code lora_B} biases and every other
 * trainable 1-D tensor get the B learning rate, and biases / norm weights ({@code noDecay()}) go without decay.
 * All four groups are returned, possibly empty, as PEFT passes all four to the optimizer.
 *
 * <p>Options ({@code optimizer.policy} in the run configuration):
 * <ul>
 *   <li>{@code loraplus_lr_ratio} - {@code η_B / η_A}, must be {@code > 0}. PEFT has no default (it is a required
 *       argument there); here it defaults to <b>16</b> (2^4, the value PEFT's docs and the paper use) when absent;</li>
 *   <li>{@code loraplus_lr_embedding} - learning rate of embedding LoRA factors, default {@code 1e-6} (PEFT);</li>
 *   <li>{@code loraplus_weight_decay} - default {@code 0.0} as in PEFT: the run's {@code optimizer.weight_decay} is
 *       <i>not</i> inherited, so give this option to use decay with LoRA+.</li>
 * </ul>
 * A policy without any UP-role parameter would give nothing the B rate, which is a configuration mistake (e.g. LoRA+
 * on VeRA): that is a {@link ConfigException}.
 */
@Extension
public final class LoraPlusPolicy implements OptimizerPolicy {
    public static final String ID = "loraplus";
    public static final double DEFAULT_RATIO = 16.0;
    public static final double DEFAULT_LR_EMBEDDING = 1e-6;
    public static final double DEFAULT_WEIGHT_DECAY = 0.0;
    static final String RATIO = "loraplus_lr_ratio";
    static final String LR_EMBEDDING = "loraplus_lr_embedding";
    static final String WEIGHT_DECAY = "loraplus_weight_decay";
    private static final Set<String> OPTIONS = Set.of(RATIO, LR_EMBEDDING, WEIGHT_DECAY);

    @Override
    public String id() {
        return ID;
    }

    @Override
    public String description() {
        return "LoRA+: lora_B (and 1-D tensors) learn loraplus_lr_ratio times faster than lora_A";
    }

    @Override
    public void validate(Map<String, Object> options) {
        for (String k : options.keySet()) {
            if (!OPTIONS.contains(k)) {
                throw new ConfigException(k, "unknown LoRA+ option; valid options: " + OPTIONS.stream().sorted().toList());
            }
        }
        double ratio = number(options, RATIO, DEFAULT_RATIO);
        if (!(ratio > 0)) {
            throw new ConfigException(RATIO, "must be > 0 (the ratio of B's to A's learning rate, e.g. 16), got "
                    + ratio);
        }
        double lrEmbedding = number(options, LR_EMBEDDING, DEFAULT_LR_EMBEDDING);
        if (!(lrEmbedding >= 0)) {
            throw new ConfigException(LR_EMBEDDING, "must be >= 0, got " + lrEmbedding);
        }
        double wd = number(options, WEIGHT_DECAY, DEFAULT_WEIGHT_DECAY);
        if (!(wd >= 0)) {
            throw new ConfigException(WEIGHT_DECAY, "must be >= 0, got " + wd);
        }
    }

    @Override
    public List<ParamGroup> group(List<Parameter> trainable, OptimizerSettings base, Map<String, Object> options) {
        validate(options);
        double ratio = number(options, RATIO, DEFAULT_RATIO);
        double lrEmbedding = number(options, LR_EMBEDDING, DEFAULT_LR_EMBEDDING);
        double wd = number(options, WEIGHT_DECAY, DEFAULT_WEIGHT_DECAY);
        if (trainable.stream().noneMatch(p -> p.role() == ParamRole.UP)) {
            throw new ConfigException("", "optimizer policy 'loraplus' needs parameters with the UP role (lora_B), "
                    + "but the trainable parameters have roles " + trainable.stream().map(Parameter::role).distinct()
                    .toList() + "; use LoRA+ with a LoRA-family method");
        }
        List<Parameter> groupA = new ArrayList<>();
        List<Parameter> embedding = new ArrayList<>();
        List<Parameter> groupB = new ArrayList<>();
        List<Parameter> groupBNoDecay = new ArrayList<>();
        for (Parameter p : trainable) {
            if (!p.trainable()) {
                continue;
            }
            switch (assign(p)) {
                case "embedding" -> embedding.add(p);
                case "groupB" -> groupB.add(p);
                case "groupB_no_decay" -> groupBNoDecay.add(p);
                default -> groupA.add(p);
            }
        }
        double lr = base.lr();
        return List.of(new ParamGroup("groupA", lr, wd, groupA),
                new ParamGroup("embedding", lrEmbedding, wd, embedding),
                new ParamGroup("groupB", lr * ratio, wd, groupB),
                new ParamGroup("groupB_no_decay", lr * ratio, 0.0, groupBNoDecay));
    }

    /** The group of one trainable parameter (PEFT's rules read from its role and dimensionality). */
    static String assign(Parameter p) {
        if (p.role() == ParamRole.EMBEDDING_DOWN || p.role() == ParamRole.EMBEDDING_UP) {
            return "embedding";
        }
        if (p.role() == ParamRole.UP || p.value().getShape().dimension() == 1) {
            return p.noDecay() ? "groupB_no_decay" : "groupB";
        }
        return "groupA";
    }

    private static double number(Map<String, Object> options, String key, double dflt) {
        Object v = options.get(key);
        if (v == null) {
            return dflt;
        }
        if (v instanceof Number n) {
            return n.doubleValue();
        }
        throw new ConfigException(key, "expected a number, got \"" + v + "\"");
    }
}
