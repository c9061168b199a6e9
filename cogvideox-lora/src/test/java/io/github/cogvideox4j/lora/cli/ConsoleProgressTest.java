package io.github.cogvideox4j.lora.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.cogvideox4j.lora.train.StepResult;
import io.github.cogvideox4j.lora.train.TrainingStart;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The end-of-run summary of {@code train}: only a fresh built-in default run is judged by its loss. */
class ConsoleProgressTest {
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final TrainCommand.ConsoleProgress progress =
            new TrainCommand.ConsoleProgress(new PrintStream(bytes, true, StandardCharsets.UTF_8));

    /** Steps {@code first..last} with loss {@code loss0 + slope * (step - first)}. */
    private static List<StepResult> steps(long first, long last, double loss0, double slope) {
        List<StepResult> r = new ArrayList<>();
        for (long s = first; s <= last; s++) {
            r.add(new StepResult(s, 0, loss0 + slope * (s - first), 1e-3, 1.0, false, "3x64x96", 10));
        }
        return r;
    }

    private String printed() {
        return bytes.toString(StandardCharsets.UTF_8);
    }

    @Test
    void aResumedRunWhoseLossRoseStillSucceeds() {
        progress.onStart(new TrainingStart(41, 100, Path.of("out"), "t"));
        assertThat(progress.summary(steps(41, 100, 0.5, 0.01), true)).isTrue();
        assertThat(printed()).contains("ran steps 41-100").contains("resumed after step 40; no learning check")
                .doesNotContain("learning check:");
    }

    @Test
    void aConfigDrivenRunWhoseLossRoseStillSucceeds() {
        progress.onStart(new TrainingStart(1, 60, Path.of("out"), "t"));
        assertThat(progress.summary(steps(1, 60, 0.5, 0.01), false)).isTrue();
        assertThat(printed()).contains("ran steps 1-60").doesNotContain("learning check");
    }

    @Test
    void theFreshBuiltinDefaultRunPrintsItsLearningCheckOverTheWholeRun() {
        progress.onStart(new TrainingStart(1, 60, Path.of("out"), "t"));
        assertThat(progress.summary(steps(1, 60, 1.0, -0.01), true)).isTrue();
        // steps 1-20: mean of 1.0 - 0.01 * (0..19) = 0.905; steps 41-60: 1.0 - 0.01 * (40..59) = 0.505
        assertThat(printed()).contains("learning check: mean loss of steps 1-20 0.9050, of steps 41-60 0.5050")
                .contains("PASSED");
    }

    @Test
    void theFreshBuiltinDefaultRunFailsWhenItsLossDidNotFall() {
        progress.onStart(new TrainingStart(1, 40, Path.of("out"), "t"));
        assertThat(progress.summary(steps(1, 40, 0.5, 0.001), true)).isFalse();
        assertThat(printed()).contains("learning check: mean loss of steps 1-20").contains("FAILED");
    }

    @Test
    void aFreshBuiltinDefaultRunTooShortForTheCheckSucceeds() {
        progress.onStart(new TrainingStart(1, 39, Path.of("out"), "t"));
        assertThat(progress.summary(steps(1, 39, 0.5, 0.01), true)).isTrue();
        assertThat(printed()).contains("ran steps 1-39").doesNotContain("learning check");
    }
}
