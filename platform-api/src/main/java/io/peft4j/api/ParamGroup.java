package io.peft4j.api;

import java.util.List;

/** A set of parameters sharing a learning rate and weight decay. */
public record ParamGroup(String name, double lr, double weightDecay, List<Parameter> parameters) {
    public ParamGroup {
        parameters = List.copyOf(parameters);
    }
}
