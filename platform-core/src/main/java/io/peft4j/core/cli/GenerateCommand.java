package io.peft4j.core.cli;

import io.peft4j.api.ConfigException;
import io.peft4j.core.config.RunConfigParser;
import io.peft4j.core.model.GenerationOptions;
import io.peft4j.core.model.Generator;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.run.Bundled;
import io.peft4j.core.run.RunConfigValidator;
import io.peft4j.core.run.RunPlan;
import io.peft4j.core.run.TuningSession;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code peft4j generate}: text generation with the KV cache, with zero, one or several adapters active. */
@Command(name = "generate", description = "Generate text (greedy or sampled) with the base model and optional adapters.")
final class GenerateCommand implements Callable<Integer> {
    @Mixin
    PluginOptions plugins = new PluginOptions();

    @Option(names = "--model", paramLabel = "DIR", defaultValue = Bundled.MODEL,
            description = "Model directory (default: ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--adapter", paramLabel = "[NAME=]DIR",
            description = "Adapter directory in PEFT format; repeat to load several (their contributions add).")
    List<String> adapters = new ArrayList<>();

    @Option(names = {"-p", "--prompt"}, required = true, description = "Prompt; repeat for a batch.")
    List<String> prompts;

    @Option(names = "--adapter-per-row", paramLabel = "NAME,NAME,-", split = ",",
            description = "Mixed batch: the adapter of each prompt, in prompt order (\"-\" = none); one entry per "
                    + "prompt. Replaces the active adapters for this run.")
    List<String> adapterPerRow;

    @Option(names = "--max-new-tokens", defaultValue = "64") int maxNewTokens;
    @Option(names = "--temperature", defaultValue = "0", description = "0 = greedy.") double temperature;
    @Option(names = "--top-k", defaultValue = "0", description = "0 = off.") int topK;
    @Option(names = "--top-p", defaultValue = "1.0") double topP;
    @Option(names = "--seed", defaultValue = "42") long seed;
    @Option(names = "--stop-token", description = "Extra stop token id (repeatable); eos always stops.")
    List<Long> stopTokens = new ArrayList<>();

    @Override
    public Integer call() {
        var cfg = RunConfigParser.parse("{}", false).withModelPath(model);
        try (PluginRuntime rt = plugins.start(cfg.model().device())) {
            RunPlan plan = RunConfigValidator.validate(cfg, rt.extensions());
            try (TuningSession s = TuningSession.open(plan, rt.extensions())) {
                List<String> names = AdapterLoading.load(s.peft(), rt.extensions(), adapters, seed);
                s.peft().setActive(names);
                Set<Long> stops = new LinkedHashSet<>(stopTokens);
                if (s.tokenizer().eosId() >= 0) {
                    stops.add((long) s.tokenizer().eosId());
                }
                GenerationOptions o = (temperature <= 0 ? GenerationOptions.greedy(maxNewTokens)
                        : GenerationOptions.sampling(maxNewTokens, temperature, topK, topP, seed))
                        .withStopTokenIds(stops);
                List<Generator.Result> results;
                if (adapterPerRow == null) {
                    results = s.generate(prompts, o);
                } else {
                    if (adapterPerRow.size() != prompts.size()) {
                        throw new ConfigException("--adapter-per-row", "has " + adapterPerRow.size()
                                + " entries for " + prompts.size() + " prompts; give one per prompt (\"-\" = none)");
                    }
                    results = s.generate(prompts, o, adapterPerRow.stream().map(n -> n.equals("-") ? null : n)
                            .collect(java.util.stream.Collectors.toList()));
                }
                for (int i = 0; i < results.size(); i++) {
                    System.out.println(prompts.get(i) + results.get(i).text());
                    if (results.size() > 1) {
                        System.out.println("---");
                    }
                }
            }
        }
        return 0;
    }
}
