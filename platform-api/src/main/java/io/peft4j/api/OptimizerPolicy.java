package io.peft4j.api;

import java.util.List;
import org.pf4j.ExtensionPoint;

/**
 * Splits the trainable parameters into optimizer groups with their own learning rate and weight decay
 * (LoRA+: the up-projection learns {@code ratio} times faster). Policies select parameters by
 * {@link Parameter#role()}, so they compose with any method that labels its parameters.
 *
 * @param <O> the options record (the keys of {@code optimizer.policy} besides {@code id}), see
 *            {@link ExtensionOptions}
 */
public interface OptimizerPolicy<O extends ExtensionOptions> extends ExtensionPoint {

    /** The id used in configurations ({@code optimizer: {policy: loraplus}}). */
    String id();

    /** One line for {@code peft4j plugins}. */
    String description();

    /**
     * The options record type; the platform parses {@code optimizer.policy} into it and validates it when the
     * configuration is validated, before any tensor exists.
     */
    Class<O> optionsType();

    /**
     * @param trainable every trainable parameter of the run
     * @param base      the configured optimizer settings
     * @param options   the parsed policy options
     * @return groups covering every trainable parameter exactly once; throw {@link ConfigException} if the policy
     *         finds none of the roles it needs
     */
    List<ParamGroup> group(List<Parameter> trainable, OptimizerSettings base, O options);
}
