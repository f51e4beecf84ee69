package io.peft4j.bench;

import io.peft4j.core.quant.BaseQuantization;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import io.peft4j.core.model.LlamaConfig;
import io.peft4j.core.plugin.PluginRuntime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Measures one {@link BenchCase} in this JVM and builds its {@code kind: config} record (field names as the peer's
 * where they mean the same). Intermediate records ({@code kind: rss_sample}) go to {@code emit} as they happen.
 */
final class CaseMeasurement {
    private final BenchOptions o;
    private final double peak1024;
    private final double peak2048;
    private Consumer<Map<String, Object>> progress;   // per-step records for model directories, else null

    CaseMeasurement(BenchOptions o, double peak1024, double peak2048) {
        this.o = o;
        this.peak1024 = peak1024;
        this.peak2048 = peak2048;
    }

    Map<String, Object> run(BenchCase c, NDManager root, PluginRuntime runtime, Consumer<Map<String, Object>> emit) {
        SystemProbe.CpuWindow window = new SystemProbe.CpuWindow();
        Map<String, Object> rec = new LinkedHashMap<>();
        try (BenchSubject s = BenchSubject.create(c, o, root, runtime)) {
            header(rec, c, s);
            if (c.modelDir() != null) {
                // Progress records first: a large model's run may be stopped before its config record exists.
                Map<String, Object> load = new LinkedHashMap<>();
                load.put("kind", "load");
                load.put("size", c.sizeLabel());
                load.put("base_quant", rec.get("base_quant"));
                for (String k : List.of("load_s", "rss_peak_mib_after_load", "quantized_on_load", "n_params_total",
                        "base_bits_per_param", "max_heap_mib")) {
                    load.put(k, rec.get(k));
                }
                emit.accept(load);
            }
            this.progress = c.modelDir() == null ? null : emit;
            StepLoops loops = new StepLoops(s, o.lr(), o.gradCheckpoint());
            try {
                switch (c.mode()) {
                    case LORA, FULL -> forwardAndTrain(rec, s, loops);
                    case MERGE -> merge(rec, s, loops, root);
                    case RSS -> rss(rec, s, loops, emit);
                    default -> throw new IllegalStateException("unhandled mode " + c.mode());
                }
            } finally {
                loops.close();
            }
        }
        window.record(rec);
        return rec;
    }

    private void header(Map<String, Object> rec, BenchCase c, BenchSubject s) {
        LlamaConfig cfg = s.model.config();
        boolean lora = c.mode() != BenchMode.FULL;
        rec.put("kind", "config");
        rec.put("size", c.sizeLabel());
        rec.put("mode", c.mode().id());
        rec.put("targets", c.targets());
        rec.put("base_quant", o.baseQuant() == null ? "fp32" : o.baseQuant());
        rec.put("grad_checkpoint", o.gradCheckpoint());
        rec.put("fused_loss", o.fusedLoss());
        if (o.baseQuant() != null) {
            rec.put("base_bits_per_param", BaseQuantization.stats(s.model).bitsPerParameter());
        }
        rec.put("r", lora ? o.rank() : null);
        rec.put("alpha", lora ? o.alpha() : null);
        if (c.modelDir() != null) {
            rec.put("model_dir", c.modelDir().toAbsolutePath().normalize().toString());
        }
        rec.put("B", s.batch);
        rec.put("T", s.seq);
        rec.put("tokens_per_step", s.tokens());
        rec.put("dim", cfg.hiddenSize());
        rec.put("n_layers", cfg.numHiddenLayers());
        rec.put("n_heads", cfg.numAttentionHeads());
        rec.put("n_kv_heads", cfg.numKeyValueHeads());
        rec.put("hidden", cfg.intermediateSize());
        rec.put("vocab", cfg.vocabSize());
        rec.put("tied_embeddings", s.model.tiedEmbeddings());
        rec.put("attn_impl", "eager");
        rec.put("threads", JniUtils.getNumThreads());
        rec.put("interop_threads", JniUtils.getNumInteropThreads());
        rec.put("torch_version", Engine.getInstance().getVersion());
        rec.put("djl_version", Engine.getDjlVersion());
        rec.put("n_params_total", s.nTotal);
        rec.put("n_params_linear", s.nLinear());
        rec.put("n_params_linear_layers", s.nLinearLayers);
        rec.put("n_params_lm_head", s.nLmHead);
        rec.put("n_params_embed", s.nEmbed);
        rec.put("n_params_lora", s.nLora);
        rec.put("n_params_trainable", s.trainableCount());
        rec.put("warmup", o.warmup());
        rec.put("steps", c.mode() == BenchMode.RSS ? o.rssSteps() : o.steps());
        if (c.modelDir() != null) {
            rec.put("load_s", Json.round(s.load.seconds(), 4));   // ms precision: a tiny model loads in ~10 ms
            rec.put("rss_peak_mib_after_load", Json.round(s.load.rssPeakMib(), 1));
            rec.put("quantized_on_load", s.load.quantizedOnLoad());
            rec.put("max_heap_mib", Runtime.getRuntime().maxMemory() / (1024 * 1024));
        }
        rec.put("rss_mib_after_build", Json.round(s.load.peakReset()
                ? Math.max(SystemProbe.rssPeakMib(), s.load.rssPeakMib()) : SystemProbe.rssPeakMib(), 1));
    }

    private void forwardAndTrain(Map<String, Object> rec, BenchSubject s, StepLoops loops) {
        double fwdFlops = FlopCount.forward(s.nLinear(), s.nLora, s.tokens(), s.attentionFlops());
        List<Double> fwd = null;
        if (o.timeForward()) {
            fwd = loops.forward(o.warmup(), o.steps());
            timing(rec, "fwd", fwd, s.tokens());
            rec.put("fwd_flops", fwdFlops);
            rec.put("fwd_gflops_per_s", Json.round(fwdFlops / Stats.median(fwd) / 1e9, 2));
            rec.put("rss_peak_mib_after_fwd", Json.round(s.load.peakReset()
                    ? Math.max(SystemProbe.rssPeakMib(), s.load.rssPeakMib()) : SystemProbe.rssPeakMib(), 1));
        }

        double trainFlops = s.peft == null ? FlopCount.fullTrain(s.nLinear(), s.tokens(), s.attentionFlops())
                : FlopCount.loraTrain(s.nLinear(), s.nLora, s.tokens(), s.attentionFlops());
        List<Double> losses = new ArrayList<>();
        long trainStart = System.nanoTime();
        List<StepLoops.Step> steps = loops.train(o.warmup(), o.steps(), losses, progress == null ? null : step -> {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("kind", "train_step");
            r.put("size", s.benchCase.sizeLabel());
            r.put("step", step);
            r.put("loss", Json.round(losses.get(losses.size() - 1), 4));
            r.put("elapsed_s", Json.round((System.nanoTime() - trainStart) / 1e9, 1));
            r.put("rss_peak_mib_train", Json.round(SystemProbe.rssPeakMib(), 1));
            r.put("rss_mib", Json.round(SystemProbe.rssNowMib(), 1));
            progress.accept(r);
        });
        trainRecord(rec, s, steps, losses, trainFlops);
        double peak = SystemProbe.rssPeakMib();
        if (s.load.peakReset()) {
            // VmHWM was reset after loading: it is the peak of the forward and training passes; the record's
            // overall peak also covers the load.
            rec.put("rss_peak_mib_train", Json.round(peak, 1));
            peak = Math.max(peak, s.load.rssPeakMib());
        }
        rec.put("rss_peak_mib", Json.round(peak, 1));
        rec.put("rss_now_mib", Json.round(SystemProbe.rssNowMib(), 1));
        mfu(rec, "train", Stats.median(totals(steps)), Stats.min(totals(steps)));
        if (fwd != null) {
            mfu(rec, "fwd", Stats.median(fwd), Stats.min(fwd));
        }
    }

    private void trainRecord(Map<String, Object> rec, BenchSubject s, List<StepLoops.Step> steps, List<Double> losses,
                             double trainFlops) {
        List<Double> total = totals(steps);
        double m = Stats.median(total);
        rec.put("train_step_s_median", Json.round(m, 5));
        rec.put("train_step_s_all", total.size() <= 50 ? Json.round(total, 5) : null);
        rec.put("train_fwd_bwd_s_median",
                Json.round(Stats.median(steps.stream().map(StepLoops.Step::forwardBackward).toList()), 5));
        rec.put("train_opt_s_median", Json.round(Stats.median(steps.stream().map(StepLoops.Step::opt).toList()), 5));
        rec.put("train_step_s_min", Json.round(Stats.min(total), 5));
        rec.put("train_tokens_per_s_best", Json.round(s.tokens() / Stats.min(total), 1));
        rec.put("train_tokens_per_s", Json.round(s.tokens() / m, 1));
        rec.put("train_flops", trainFlops);
        rec.put("train_gflops_per_s", Json.round(trainFlops / m / 1e9, 2));
        rec.put("loss_first", Json.round(losses.get(0), 4));
        rec.put("loss_last", Json.round(losses.get(losses.size() - 1), 4));
        rec.put("loss_ln_vocab", Json.round(Math.log(s.model.config().vocabSize()), 4));
    }

    private void merge(Map<String, Object> rec, BenchSubject s, StepLoops loops, NDManager root) {
        s.randomizeUpProjections();
        double attn = s.attentionFlops();
        double unmergedFlops = FlopCount.forward(s.nLinear(), s.nLora, s.tokens(), attn);
        double plainFlops = FlopCount.forward(s.nLinear(), 0, s.tokens(), attn);

        s.peft.setActive(List.of());
        List<Double> base = loops.forward(o.warmup(), o.steps());
        timing(rec, "fwd_base", base, s.tokens());
        rec.put("fwd_base_gflops_per_s", Json.round(plainFlops / Stats.median(base) / 1e9, 2));

        s.peft.setActive(List.of(BenchSubject.ADAPTER));
        List<Double> unmerged = loops.forward(o.warmup(), o.steps());
        timing(rec, "fwd_unmerged", unmerged, s.tokens());
        rec.put("fwd_unmerged_gflops_per_s", Json.round(unmergedFlops / Stats.median(unmerged) / 1e9, 2));
        try (NDManager keep = root.newSubManager()) {
            NDArray ref = loops.logits(0, keep);
            long t0 = System.nanoTime();
            s.peft.merge(BenchSubject.ADAPTER);
            rec.put("merge_s", Json.round((System.nanoTime() - t0) / 1e9, 5));
            List<Double> merged = loops.forward(o.warmup(), o.steps());
            timing(rec, "fwd_merged", merged, s.tokens());
            rec.put("fwd_merged_gflops_per_s", Json.round(plainFlops / Stats.median(merged) / 1e9, 2));
            NDArray got = loops.logits(0, keep);
            rec.put("merged_vs_unmerged_max_abs_diff", (double) got.sub(ref).abs().max().getFloat());
            double mb = Stats.median(base);
            double mu = Stats.median(unmerged);
            double mm = Stats.median(merged);
            rec.put("merged_speedup", Json.round(mu / mm, 3));
            rec.put("merged_vs_base_time_ratio", Json.round(mm / mb, 3));
            rec.put("unmerged_vs_base_time_ratio", Json.round(mu / mb, 3));
            rec.put("fwd_flops", unmergedFlops);
            rec.put("fwd_flops_merged", plainFlops);
            s.peft.unmergeAll();
        }
        rec.put("rss_peak_mib", Json.round(SystemProbe.rssPeakMib(), 1));
        mfu(rec, "fwd_base", Stats.median(base), Stats.min(base), plainFlops);
        mfu(rec, "fwd_unmerged", Stats.median(unmerged), Stats.min(unmerged), unmergedFlops);
        mfu(rec, "fwd_merged", (double) rec.get("fwd_merged_s_median"), (double) rec.get("fwd_merged_s_min"),
                plainFlops);
    }

    private void rss(Map<String, Object> rec, BenchSubject s, StepLoops loops, Consumer<Map<String, Object>> emit) {
        int total = o.rssSteps();
        int every = o.rssEvery();
        int ref = Math.min(100, total);
        List<List<Object>> samples = new ArrayList<>();
        double[] atRef = {Double.NaN};
        long start = System.nanoTime();
        List<Double> losses = new ArrayList<>();
        List<StepLoops.Step> steps = loops.train(0, total, losses, step -> {
            if (step % every == 0 || step == ref || step == total || step == 1) {
                double mib = SystemProbe.rssNowMib();
                if (step == ref) {
                    atRef[0] = mib;
                }
                samples.add(List.of(step, Json.round(mib, 1)));
                Map<String, Object> r = new LinkedHashMap<>();
                r.put("kind", "rss_sample");
                r.put("size", s.benchCase.sizeLabel());
                r.put("step", step);
                r.put("rss_mib", Json.round(mib, 1));
                r.put("rss_peak_mib", Json.round(SystemProbe.rssPeakMib(), 1));
                r.put("elapsed_s", Json.round((System.nanoTime() - start) / 1e9, 1));
                emit.accept(r);
            }
        });
        double end = SystemProbe.rssNowMib();
        double flops = FlopCount.loraTrain(s.nLinear(), s.nLora, s.tokens(), s.attentionFlops());
        List<StepLoops.Step> timed = steps.subList(Math.min(o.warmup(), steps.size() - 1), steps.size());
        trainRecord(rec, s, timed, losses, flops);
        rec.put("rss_reference_step", ref);
        rec.put("rss_mib_at_reference", Json.round(atRef[0], 1));
        rec.put("rss_mib_end", Json.round(end, 1));
        rec.put("rss_rel_change_from_reference", Json.round((end - atRef[0]) / atRef[0], 4));
        rec.put("rss_flat_within_2pct", Math.abs((end - atRef[0]) / atRef[0]) <= 0.02);
        rec.put("rss_samples", samples);
        rec.put("rss_peak_mib", Json.round(SystemProbe.rssPeakMib(), 1));
        mfu(rec, "train", Stats.median(totals(timed)), Stats.min(totals(timed)));
    }

    private static List<Double> totals(List<StepLoops.Step> steps) {
        return steps.stream().map(StepLoops.Step::total).toList();
    }

    private static void timing(Map<String, Object> rec, String tag, List<Double> ts, long tokens) {
        double m = Stats.median(ts);
        double min = Stats.min(ts);
        rec.put(tag + "_s_median", Json.round(m, 5));
        rec.put(tag + "_s_min", Json.round(min, 5));
        rec.put(tag + "_s_all", Json.round(ts, 5));
        rec.put(tag + "_tokens_per_s", Json.round(tokens / m, 1));
        rec.put(tag + "_tokens_per_s_best", Json.round(tokens / min, 1));
    }

    /** MFU fields from the {@code <tag>_gflops_per_s} already in the record. */
    private void mfu(Map<String, Object> rec, String tag, double median, double min) {
        Object gf = rec.get(tag + "_gflops_per_s");
        if (gf instanceof Double g) {
            mfuFields(rec, tag, g, median, min);
        }
    }

    private void mfu(Map<String, Object> rec, String tag, double median, double min, double flops) {
        mfuFields(rec, tag, flops / median / 1e9, median, min);
    }

    private void mfuFields(Map<String, Object> rec, String tag, double gflops, double median, double min) {
        if (peak2048 > 0) {
            rec.put(tag + "_mfu_vs_mm2048", Json.round(gflops / peak2048, 4));
            rec.put(tag + "_mfu_best_vs_mm2048", Json.round(gflops * median / min / peak2048, 4));
        }
        if (peak1024 > 0) {
            rec.put(tag + "_mfu_vs_mm1024", Json.round(gflops / peak1024, 4));
        }
    }
}
