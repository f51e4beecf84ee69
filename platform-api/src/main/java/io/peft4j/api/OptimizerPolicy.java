package io.peft4j.api;

import java.util.List;
import java.util.Map;
import org.pf4j.ExtensionPoint;

/**
 * Splits the trainable parameters into optimizer groups with their own learning rate and weight decay
 * (LoRA+: the up-projection learns {@code ratio} times faster). Policies select parameters by
 * {@link Parameter#role()}, so they compose with any method that labels its parameters.
 */
public interface OptimizerPolicy extends ExtensionPoint {

    /** The id used in configurations ({@code optimizer: {policy: loraplus}}). */
    String id();

    /** One line for {@code peft4j plugins}. */
    String description();

    /**
     * Checks the policy options when the configuration is validated, before any tensor exists. Throw
     * {@link ConfigException} naming the option. {@link #group} may check them again.
     */
    default void validate(Map<String, Object> options) {
    }

    /**
     * @param trainable every trainable parameter of the run
     * @param base      the configured optimizer settings
     * @param options   policy options (validated here; throw {@link ConfigException} naming the field)
     * @return groups covering every trainable parameter exactly once; throw {@link ConfigException} if the policy
     *         finds none of the roles it needs
     */
    List<ParamGroup> group(List<Parameter> trainable, OptimizerSettings base, Map<String, Object> options);
}
