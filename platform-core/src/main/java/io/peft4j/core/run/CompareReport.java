package io.peft4j.core.run;

import io.peft4j.core.io.AtomicFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;

/** Writes the comparison as a Markdown table and a PNG chart (eval loss before/after and task score per run). */
public final class CompareReport {
    private CompareReport() {
    }

    public static String markdown(List<CompareRun.Result> rows) {
        StringBuilder sb = new StringBuilder();
        sb.append("| run | method(s) | trainable params | eval loss before | eval loss after | task score before "
                + "| task score after | train tok/s | peak RSS MiB | adapter size | gen ms/token (merged) |\n");
        sb.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (CompareRun.Result r : rows) {
            if (r.error() != null) {
                sb.append("| ").append(r.name()).append(" | not run: ").append(r.error().replace("|", "/"))
                        .append(" |||||||||\n");
                continue;
            }
            sb.append(String.format(Locale.ROOT, "| %s | %s | %,d | %.3f | %.3f | %.0f%% | %.0f%% | %,.0f | %.0f | %s "
                            + "| %.2f%s |%n", r.name(), r.methods(), r.trainableParams(), r.evalLossBefore(),
                    r.evalLossAfter(), 100 * r.taskScoreBefore(), 100 * r.taskScoreAfter(), r.trainTokensPerSecond(),
                    r.peakRssMib(), human(r.adapterBytes()), r.genMsPerToken(),
                    r.genMsPerTokenMerged() == null ? "" : String.format(Locale.ROOT, " (%.2f)",
                            r.genMsPerTokenMerged())));
        }
        return sb.toString();
    }

    public static void write(List<CompareRun.Result> rows, Path dir) throws IOException {
        AtomicFiles.write(dir.resolve("compare.md"), markdown(rows).getBytes(StandardCharsets.UTF_8));
        List<CompareRun.Result> ok = rows.stream().filter(r -> r.error() == null).toList();
        if (ok.isEmpty()) {
            return;
        }
        CategoryChart chart = new CategoryChartBuilder().width(1000).height(560).title("Same data, same budget")
                .xAxisTitle("run").yAxisTitle("eval loss / task score").build();
        List<String> names = ok.stream().map(CompareRun.Result::name).toList();
        chart.addSeries("eval loss before", names, ok.stream().map(CompareRun.Result::evalLossBefore).toList());
        chart.addSeries("eval loss after", names, ok.stream().map(CompareRun.Result::evalLossAfter).toList());
        chart.addSeries("task score after", names, ok.stream().map(CompareRun.Result::taskScoreAfter).toList());
        chart.getStyler().setXAxisLabelRotation(30);
        AtomicFiles.write(dir.resolve("compare.png"),
                BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG));
    }

    private static String human(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        if (bytes < 1024 * 1024) {
            return String.format(Locale.ROOT, "%.1f KiB", bytes / 1024.0);
        }
        return String.format(Locale.ROOT, "%.1f MiB", bytes / (1024.0 * 1024.0));
    }
}
