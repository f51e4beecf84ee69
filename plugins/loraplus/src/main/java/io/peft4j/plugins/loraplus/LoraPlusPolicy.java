package io.peft4j.plugins.loraplus;

import io.peft4j.api.ConfigException;
import io.peft4j.api.OptimizerPolicy;
import io.peft4j.api.OptimizerSettings;
import io.peft4j.api.ParamGroup;
import io.peft4j.api.ParamRole;
import io.peft4j.api.Parameter;
import java.util.ArrayList;
import java.util.List;
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
 * All four groups are returned, possibly empty, as PEFT passes all four to the optimizer. The options
 * ({@code optimizer.policy} in the run configuration) are {@link LoraPlusOptions}.
 *
 * <p> * A policy without any UP-role parameter would give nothing the B rate, which is a configuration mistake (e.g. LoRA+
 * on VeRA): that is a {@link ConfigException}.
 */
@Extension
public final class LoraPlusPolicy implements OptimizerPolicy<LoraPlusOptions> {
    public static final String ID = "loraplus";

    @Override
    public String id() {
        return ID;
    }

    @Override
    public String description() {
        return "LoRA+: lora_B (and 1-D tensors) learn loraplus_lr_ratio times faster than lora_A";
    }

    @Override
    public Class<LoraPlusOptions> optionsType() {
        return LoraPlusOptions.class;
    }

    @Override
    public List<ParamGroup> group(List<Parameter> trainable, OptimizerSettings base, LoraPlusOptions options) {
        options.validate();   // the platform validated parsed options; a direct caller may not have
        double ratio = options.lrRatio();
        double lrEmbedding = options.lrEmbedding();
        double wd = options.weightDecay();
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
}
