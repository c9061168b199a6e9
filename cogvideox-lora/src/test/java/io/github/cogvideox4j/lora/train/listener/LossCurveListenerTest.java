package io.github.cogvideox4j.lora.train.listener;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.cogvideox4j.core.io.AtomicFiles;
import io.github.cogvideox4j.lora.train.StepResult;
import io.github.cogvideox4j.lora.train.TrainingStart;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The loss-curve PNG: when it is written, what it holds, and resume. */
class LossCurveListenerTest {
    @TempDir
    Path tmp;

    private static StepResult step(long s) {
        return new StepResult(s, 0, 1.0 / s, 1e-4, 0.5, false, "9x64x96", 100);
    }

    @Test
    void writesAPngEveryNStepsAndAtTheEnd() throws IOException {
        Path png = tmp.resolve("plots/loss.png");
        LossCurveListener l = new LossCurveListener(png, 5, null);
        l.onStart(new TrainingStart(1, 12, tmp, "t"));
        for (long s = 1; s <= 4; s++) {
            l.onStep(step(s));
        }
        assertThat(png).doesNotExist();
        l.onStep(step(5));
        assertThat(png).exists();
        long at5 = Files.size(png);
        l.onStep(new StepResult(6, 0, Double.NaN, 1e-4, Double.NaN, true, "9x64x96", 100));
        l.onStep(step(7));
        l.onValidation(7, 0.2);
        l.onEnd(7);
        assertThat(l.trainingPoints()).isEqualTo(6); // the skipped step is left out
        BufferedImage image = ImageIO.read(png.toFile());
        assertThat(image.getWidth()).isEqualTo(900);
        assertThat(image.getHeight()).isEqualTo(500);
        assertThat(Files.size(png)).isNotEqualTo(at5);
        try (var files = Files.list(png.getParent())) {
            assertThat(files.filter(f -> AtomicFiles.targetOf(f).isPresent()).toList()).isEmpty();
        }
    }

    @Test
    void resumeReadsTheEarlierPointsBackFromMetrics() {
        Path metrics = tmp.resolve("metrics.jsonl");
        JsonlMetricsListener jsonl = new JsonlMetricsListener(metrics);
        jsonl.onStart(new TrainingStart(1, 10, tmp, "t"));
        for (long s = 1; s <= 6; s++) {
            jsonl.onStep(step(s));
        }
        jsonl.onEnd(6);
        LossCurveListener l = new LossCurveListener(tmp.resolve("loss.png"), 100, metrics);
        l.onStart(new TrainingStart(4, 10, tmp, "resumed after step 3"));
        assertThat(l.trainingPoints()).isEqualTo(3);
        l.onStep(step(4));
        assertThat(l.trainingPoints()).isEqualTo(4);
    }

    @Test
    void resumeWithoutMetricsDropsItsOwnPointsAfterTheCheckpoint() {
        LossCurveListener l = new LossCurveListener(tmp.resolve("loss.png"), 100, null);
        l.onStart(new TrainingStart(1, 10, tmp, "t"));
        for (long s = 1; s <= 6; s++) {
            l.onStep(step(s));
        }
        l.onStart(new TrainingStart(5, 10, tmp, "resumed after step 4"));
        assertThat(l.trainingPoints()).isEqualTo(4);
    }
}
