package io.peft4j.it.multi;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.peft4j.api.Adapter;
import io.peft4j.api.AdapterConfig;
import io.peft4j.core.model.PlatformForwardContext;
import io.peft4j.core.model.RowAdapters;
import io.peft4j.core.peft.AdapterConfigCodec;
import io.peft4j.core.plugin.PluginRuntime;
import io.peft4j.core.run.RunConfigValidator;
import io.peft4j.core.run.RunPlan;
import io.peft4j.core.run.TuningSession;
import io.peft4j.it.support.Runs;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * stories260K with two non-trivial LoRA adapters: {@code a} (r 4, alpha 8, q/v) and {@code b} (r 2, alpha 6, v/down),
 * created with {@code init_lora_weights: false} (both factors random, different seeds) so they change the model
 * without training.
 */
final class TwoAdapters {
    static final long[][] ROWS = {
            {1, 403, 407, 261, 378, 432, 383, 286, 261},
            {1, 365, 412, 268, 259, 301, 390, 272, 290},
            {1, 299, 262, 303, 278, 414, 330, 268, 345}};

    private TwoAdapters() {
    }

    static TuningSession open(PluginRuntime rt, Path tmp) {
        RunPlan plan = RunConfigValidator.validate(Runs.yaml("[]", 1, tmp.resolve("bare")), rt.extensions());
        TuningSession s = TuningSession.open(plan, rt.extensions());
        Adapter lora = rt.extensions().requireAdapter("lora");
        add(s, lora, "a", Map.of("r", 4, "lora_alpha", 8, "target_modules", List.of("q_proj", "v_proj")), 11);
        add(s, lora, "b", Map.of("r", 2, "lora_alpha", 6, "target_modules", List.of("v_proj", "down_proj")), 22);
        s.peft().setActive(List.of());
        return s;
    }

    static void add(TuningSession s, Adapter method, String name, Map<String, Object> settings, long seed) {
        Map<String, Object> cfg = new java.util.LinkedHashMap<>(settings);
        cfg.put("init_lora_weights", false);
        AdapterConfig c = AdapterConfigCodec.parseStrict(method, cfg, "adapters." + name);
        s.peft().addAdapter(name, method, c, seed);
    }

    /** Logits [batch, seq, vocab] of the given rows with the active adapters (or a mixed-batch assignment). */
    static float[][] logits(TuningSession s, long[][] rows, RowAdapters perRow) {
        try (NDManager m = NDManager.newBaseManager()) {
            int seq = rows[0].length;
            long[] flat = new long[rows.length * seq];
            for (int i = 0; i < rows.length; i++) {
                System.arraycopy(rows[i], 0, flat, i * seq, seq);
            }
            NDArray ids = m.create(flat).reshape(rows.length, seq);
            NDArray out = s.model().forward(ids, null, null, PlatformForwardContext.eval(m, perRow));
            float[][] res = new float[rows.length][];
            for (int i = 0; i < rows.length; i++) {
                res[i] = out.get(i).toFloatArray();
            }
            return res;
        }
    }

    static float[] logits(TuningSession s, long[] row) {
        return logits(s, new long[][] {row}, null)[0];
    }

    static double maxAbsDiff(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new AssertionError("lengths differ: " + a.length + " vs " + b.length);
        }
        double d = 0;
        for (int i = 0; i < a.length; i++) {
            d = Math.max(d, Math.abs(a[i] - b[i]));
        }
        return d;
    }

    static double maxAbs(float[] a) {
        double m = 0;
        for (float v : a) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }
}
