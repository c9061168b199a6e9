package io.github.cogvideox4j.lora.train.listener;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.cogvideox4j.core.io.AtomicFiles;
import io.github.cogvideox4j.lora.train.StepResult;
import io.github.cogvideox4j.lora.train.TrainingListener;
import io.github.cogvideox4j.lora.train.TrainingStart;
import java.awt.Color;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * Draws the loss against the step into a PNG ({@code org.knowm.xchart}, an optional dependency: add it to use this
 * class): the training loss of every applied step (skipped and non-finite steps are left out), its debiased
 * exponential moving average (0.9, TensorBoard's smoothing), and the validation losses as markers. Written every
 * {@code everySteps} steps and at the end, through a temporary file and an atomic move (a viewer never sees half a
 * PNG).
 *
 * <p>Resume: on {@code onStart(firstStep = k + 1)} the points of steps {@code <= k} are read back from
 * {@code metrics.jsonl} when a metrics file is given (so a new process draws the whole run), otherwise the points
 * this listener already holds beyond {@code k} are dropped.
 *
 * <p>Thread safety: confined to the training thread. Rendering uses AWT off-screen images (headless is fine).
 */
public final class LossCurveListener implements TrainingListener {
    /** The usual file name inside the output folder. */
    public static final String FILE_NAME = "loss.png";

    private static final double EMA = 0.9;

    private final Path png;
    private final long everySteps;
    private final Path metrics;
    private final List<double[]> train = new ArrayList<>();
    private final List<double[]> validation = new ArrayList<>();
    private long totalSteps;

    /**
     * @param png the PNG to write; its folder is created when first written
     * @param everySteps redraw every this many steps (&gt;= 1), besides at the end
     * @param metricsJsonl a {@code metrics.jsonl} to read earlier points from on resume, or {@code null}
     */
    public LossCurveListener(Path png, long everySteps, Path metricsJsonl) {
        checkArgument(everySteps >= 1, "everySteps must be >= 1, got %s", everySteps);
        this.png = checkNotNull(png, "png");
        this.everySteps = everySteps;
        this.metrics = metricsJsonl;
    }

    /** @return the PNG written */
    public Path file() {
        return png;
    }

    /**
     * @throws UncheckedIOException if the metrics file exists but cannot be read
     */
    @Override
    public void onStart(TrainingStart start) {
        totalSteps = start.totalSteps();
        long first = start.firstStep();
        train.removeIf(p -> p[0] >= first);
        validation.removeIf(p -> p[0] >= first);
        if (metrics != null && first > 1) {
            try {
                List<JsonNode> rows = JsonlMetricsListener.read(metrics);
                train.clear();
                validation.clear();
                for (JsonNode r : rows) {
                    long step = r.get("step").asLong();
                    JsonNode loss = r.get("loss");
                    if (step >= first || loss == null || !loss.isNumber()) {
                        continue;
                    }
                    String type = r.path("type").asText();
                    if (type.equals("step") && !r.path("skipped").asBoolean(false)) {
                        train.add(new double[] {step, loss.asDouble()});
                    } else if (type.equals("validation")) {
                        validation.add(new double[] {step, loss.asDouble()});
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the earlier losses from " + metrics, e);
            }
        }
    }

    @Override
    public void onStep(StepResult r) {
        if (!r.skipped() && Double.isFinite(r.loss())) {
            train.add(new double[] {r.step(), r.loss()});
        }
        if (r.step() % everySteps == 0) {
            write();
        }
    }

    @Override
    public void onValidation(long step, double loss) {
        if (Double.isFinite(loss)) {
            validation.add(new double[] {step, loss});
        }
    }

    @Override
    public void onEnd(long lastStep) {
        write();
    }

    /** @return the number of training points held (for tests and diagnostics) */
    int trainingPoints() {
        return train.size();
    }

    /**
     * Draws the PNG now (nothing when there is no point yet).
     *
     * @throws UncheckedIOException if the file cannot be written
     */
    public void write() {
        if (train.isEmpty() && validation.isEmpty()) {
            return;
        }
        XYChart chart = new XYChartBuilder().width(900).height(500).title("training loss")
                .xAxisTitle("step").yAxisTitle("loss").build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNE);
        chart.getStyler().setMarkerSize(6);
        chart.getStyler().setXAxisMin(0.0);
        if (totalSteps > 0) {
            chart.getStyler().setXAxisMax((double) totalSteps);
        }
        if (!train.isEmpty()) {
            double[] x = new double[train.size()];
            double[] y = new double[train.size()];
            double[] ema = new double[train.size()];
            double m = 0;
            for (int i = 0; i < x.length; i++) {
                x[i] = train.get(i)[0];
                y[i] = train.get(i)[1];
                m = EMA * m + (1 - EMA) * y[i];
                ema[i] = m / (1 - Math.pow(EMA, i + 1)); // debiased, as TensorBoard's smoothing
            }
            XYSeries raw = chart.addSeries("loss", x, y);
            raw.setMarker(SeriesMarkers.NONE);
            raw.setLineColor(new Color(120, 160, 220));
            XYSeries smooth = chart.addSeries("loss (EMA 0.9)", x, ema);
            smooth.setMarker(SeriesMarkers.NONE);
            smooth.setLineColor(new Color(20, 60, 160));
        }
        if (!validation.isEmpty()) {
            double[] x = new double[validation.size()];
            double[] y = new double[validation.size()];
            for (int i = 0; i < x.length; i++) {
                x[i] = validation.get(i)[0];
                y[i] = validation.get(i)[1];
            }
            XYSeries v = chart.addSeries("validation", x, y);
            v.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
            v.setMarker(SeriesMarkers.DIAMOND);
            v.setMarkerColor(new Color(200, 60, 30));
        }
        try {
            Path abs = png.toAbsolutePath();
            Files.createDirectories(abs.getParent());
            AtomicFiles.write(abs, out -> {
                if (!ImageIO.write(BitmapEncoder.getBufferedImage(chart), "png", out)) {
                    throw new IOException("no PNG writer in this JDK");
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the loss curve " + png + ": " + e.getMessage(), e);
        }
    }
}
