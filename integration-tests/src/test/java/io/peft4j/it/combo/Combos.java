package io.peft4j.it.combo;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.peft4j.core.config.RunConfig;
import io.peft4j.core.config.RunConfigParser;
import io.peft4j.core.model.KvCache;
import io.peft4j.core.model.LlamaModel;
import io.peft4j.core.model.PlatformForwardContext;
import io.peft4j.core.peft.AdapterFiles;
import io.peft4j.core.plugin.InstalledExtensions;
import io.peft4j.core.run.TuningSession;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Shared pieces of the composition tests: run configurations, logits, adapter reloading. */
final class Combos {
    static final long[] PROBE = {1, 403, 407, 261, 378, 432, 383, 286, 261};

    private Combos() {
    }

    /**
     * A short run on stories260K and the bundled demo data.
     *
     * @param extra extra top-level YAML (e.g. a quantization or pruning section), may be empty
     */
    static RunConfig run(String adaptersYaml, int steps, double lr, String extra, Path out) {
        String yaml = """
                model: {path: "bundled:stories260K"}
                adapters:
                %s
                optimizer: {lr: %s}
                training: {steps: %d, batch_size: 8, max_seq_len: 80, warmup_steps: 2, log_every: 1, seed: 7,
                           progress_bar: false, schedule: constant}
                data: {train: "bundled:demo/train.jsonl", eval: "bundled:demo/eval.jsonl"}
                output: {dir: "%s"}
                %s
                """.formatted(adaptersYaml.indent(2), lr, steps, out.toString().replace("\\", "/"), extra);
        return RunConfigParser.parse(yaml, true);
    }

    static float[] logits(LlamaModel model) {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray ids = m.create(PROBE).reshape(1, PROBE.length);
            return model.forward(ids, null, null, PlatformForwardContext.eval(m)).toFloatArray();
        }
    }

    /** Last-position logits of each step when feeding PROBE one token at a time after a prefill of {@code n}. */
    static float[][] cachedSteps(LlamaModel model, int prefill) {
        int vocab = model.config().vocabSize();
        float[][] out = new float[PROBE.length - prefill + 1][];
        try (NDManager m = NDManager.newBaseManager(); KvCache cache = model.newCache()) {
            long[] head = java.util.Arrays.copyOf(PROBE, prefill);
            float[] first = model.forward(m.create(head).reshape(1, prefill), null, cache,
                    PlatformForwardContext.eval(m)).toFloatArray();
            out[0] = java.util.Arrays.copyOfRange(first, (prefill - 1) * vocab, prefill * vocab);
            for (int i = prefill; i < PROBE.length; i++) {
                out[i - prefill + 1] = model.forward(m.create(new long[] {PROBE[i]}).reshape(1, 1), null, cache,
                        PlatformForwardContext.eval(m)).toFloatArray();
            }
        }
        return out;
    }

    /** Loads every adapter saved in {@code dir} (default at the top level, others in sub-directories). */
    static List<String> loadAll(TuningSession s, InstalledExtensions ext, Path dir) {
        List<String> names = new ArrayList<>();
        for (String name : AdapterFiles.adapterNames(dir)) {
            Path sub = name.equals(AdapterFiles.DEFAULT_NAME) ? dir : dir.resolve(name);
            AdapterFiles.load(s.peft(), ext, sub, name, 0);
            names.add(name);
        }
        return names;
    }

    static double mean(List<Double> xs) {
        return xs.stream().mapToDouble(d -> d).average().orElseThrow();
    }

    static void assertLossFalls(List<Double> losses) {
        int n = losses.size();
        assertThat(mean(losses.subList(n - 5, n))).as("training loss falls: %s", losses)
                .isLessThan(mean(losses.subList(0, 5)));
    }

    static double maxAbsDiff(float[] a, float[] b) {
        assertThat(a).hasSameSizeAs(b);
        double d = 0;
        for (int i = 0; i < a.length; i++) {
            d = Math.max(d, Math.abs(a[i] - b[i]));
        }
        return d;
    }
}
