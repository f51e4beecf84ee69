package io.peft4j.core.train.metrics;

import io.peft4j.core.train.checkpoint.AtomicFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** Renders train and eval loss against step as a PNG (headless AWT). */
public final class LossCurvePlot {
    private LossCurvePlot() {
    }

    /** Writes the plot atomically; does nothing when there is no loss value yet. */
    public static void write(Path png, List<MetricsRecord> records) throws IOException {
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true"); // no display needed (servers, CI)
        }
        List<Double> ts = new ArrayList<>();
        List<Double> tl = new ArrayList<>();
        List<Double> es = new ArrayList<>();
        List<Double> el = new ArrayList<>();
        for (MetricsRecord r : records) {
            if (r.loss() != null && Double.isFinite(r.loss())) {
                ts.add((double) r.step());
                tl.add(r.loss());
            }
            if (r.evalLoss() != null && Double.isFinite(r.evalLoss())) {
                es.add((double) r.step());
                el.add(r.evalLoss());
            }
        }
        if (ts.isEmpty() && es.isEmpty()) {
            return;
        }
        XYChart chart = new XYChartBuilder().width(900).height(540).title("Loss").xAxisTitle("step")
                .yAxisTitle("loss").build();
        chart.getStyler().setLegendVisible(true);
        if (!ts.isEmpty()) {
            chart.addSeries("train loss", ts, tl).setMarker(SeriesMarkers.NONE);
        }
        if (!es.isEmpty()) {
            chart.addSeries("eval loss", es, el).setMarker(SeriesMarkers.CIRCLE);
        }
        byte[] bytes = BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG);
        AtomicFiles.write(png, bytes);
    }
}
