package io.peft4j.core.run;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peft4j.api.SiteKind;
import io.peft4j.core.model.GenerationOptions;
import io.peft4j.core.peft.AttachedAdapter;
import io.peft4j.core.peft.PeftModel;
import io.peft4j.cuda.DeviceStats;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * One row of a comparison: trains a run like {@code peft4j train} and measures what the compare report shows. Run
 * in its own JVM by {@code peft4j compare} so that peak RSS belongs to this configuration alone.
 */
public final class CompareRun {
    private CompareRun() {
    }

    /** The measured row. */
    public record Result(@JsonProperty("name") String name,
                         @JsonProperty("methods") String methods,
                         @JsonProperty("trainable_params") long trainableParams,
                         @JsonProperty("eval_loss_before") double evalLossBefore,
                         @JsonProperty("eval_loss_after") double evalLossAfter,
                         @JsonProperty("task_score_before") double taskScoreBefore,
                         @JsonProperty("task_score_after") double taskScoreAfter,
                         @JsonProperty("train_tokens_per_s") double trainTokensPerSecond,
                         @JsonProperty("peak_rss_mib") double peakRssMib,
                         @JsonProperty("adapter_bytes") long adapterBytes,
                         @JsonProperty("gen_ms_per_token") double genMsPerToken,
                         @JsonProperty("gen_ms_per_token_merged") Double genMsPerTokenMerged,
                         @JsonProperty("steps") int steps,
                         @JsonProperty("error") String error) {
        public static Result failed(String name, String error) {
            return new Result(name, "", 0, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, 0,
                    Double.NaN, null, 0, error);
        }
    }

    public static Result run(String name, TuningSession s) {
        List<String> prompts = s.plan().evalData() != null ? DemoTask.prompts(s.plan().evalData()) : List.of();
        List<String> active = s.peft().active();
        s.peft().setActive(List.of());
        DemoTask.Score before = DemoTask.score(s, prompts, 0);
        s.peft().setActive(active);
        TuningSession.Outcome o = s.train();
        long genStart = System.nanoTime();
        DemoTask.Score after = DemoTask.score(s, prompts, 0);
        double genMs = msPerToken(genStart, prompts.size());
        Double merged = null;
        boolean mergeable = s.peft().adapters().values().stream()
                .allMatch(a -> a.sites().stream().allMatch(x -> x.kind() == SiteKind.LINEAR));
        if (mergeable && !prompts.isEmpty()) {
            for (String n : active) {
                s.peft().merge(n);
            }
            long t0 = System.nanoTime();
            DemoTask.score(s, prompts, 0);
            merged = msPerToken(t0, prompts.size());
            s.peft().unmergeAll();
        }
        long trainable = s.peft().adapters().values().stream().map(AttachedAdapter::instance)
                .mapToLong(PeftModel::trainableCount).sum();
        String methods = s.peft().adapters().values().stream().map(a -> a.method().method())
                .collect(Collectors.joining("+"));
        Path out = Path.of(s.plan().config().output().dir());
        return new Result(name, methods, trainable, o.evalBefore().loss(), o.evalAfter().loss(), before.fraction(),
                after.fraction(), tokensPerSecond(out.resolve("metrics.jsonl")),
                DeviceStats.cpuProcess().peakBytes() / (1024.0 * 1024.0), directorySize(o.adapterDir()), genMs, merged,
                o.training().steps(), null);
    }

    /** Greedy generation of the task's 48 tokens per prompt; an upper bound (rows that stop early count fully). */
    private static double msPerToken(long startNanos, int prompts) {
        return (System.nanoTime() - startNanos) / 1e6 / Math.max(1, prompts * 48);
    }

    /** Real (non-padding) training tokens per second of training wall time, from metrics.jsonl. */
    static double tokensPerSecond(Path metrics) {
        if (!Files.isRegularFile(metrics)) {
            return Double.NaN;
        }
        ObjectMapper json = new ObjectMapper();
        long tokens = 0;
        double elapsed = 0;
        try {
            for (String line : Files.readAllLines(metrics)) {
                JsonNode n = json.readTree(line);
                if (n.has("tokens")) {
                    tokens += n.get("tokens").asLong();
                }
                elapsed = Math.max(elapsed, n.path("elapsed").asDouble(0));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return elapsed > 0 ? tokens / elapsed : Double.NaN;
    }

    static long directorySize(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
        } catch (IOException e) {
            return -1;
        }
    }
}
