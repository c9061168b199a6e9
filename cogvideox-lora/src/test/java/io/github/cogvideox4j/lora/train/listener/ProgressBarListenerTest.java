package io.github.cogvideox4j.lora.train.listener;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.cogvideox4j.lora.train.StepResult;
import io.github.cogvideox4j.lora.train.TrainingStart;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import me.tongfei.progressbar.DelegatingProgressBarConsumer;
import org.junit.jupiter.api.Test;

/** The progress bar's position and ETA after a resume. */
class ProgressBarListenerTest {
    private static StepResult step(long s) {
        return new StepResult(s, 0, 0.5, 1e-4, 0.5, false, "9x64x96", 100);
    }

    @Test
    void etaComesFromThisProcessStepsAfterTheSlowFirstOne() {
        AtomicLong now = new AtomicLong();
        EtaEstimator eta = new EtaEstimator(now::get);
        eta.start();
        assertThat(eta.eta(10)).isEmpty();
        now.addAndGet(Duration.ofSeconds(9).toNanos()); // first step: warm-up
        eta.stepDone();
        assertThat(eta.eta(10)).contains(Duration.ofSeconds(90));
        for (int i = 0; i < 3; i++) {
            now.addAndGet(Duration.ofSeconds(2).toNanos());
            eta.stepDone();
        }
        assertThat(eta.eta(10)).contains(Duration.ofSeconds(20));
        assertThat(eta.eta(0)).contains(Duration.ZERO);
    }

    @Test
    void barResumesAtFirstStepMinusOneAndEndsAtTheLastStep() {
        List<String> lines = new CopyOnWriteArrayList<>();
        AtomicLong now = new AtomicLong();
        ProgressBarListener l = new ProgressBarListener(new DelegatingProgressBarConsumer(lines::add, 120), 10,
                now::get);
        l.onStart(new TrainingStart(11, 20, null, "resumed after step 10"));
        for (long s = 11; s <= 13; s++) {
            now.addAndGet(Duration.ofSeconds(1).toNanos());
            l.onStep(step(s));
        }
        l.onEnd(13);
        assertThat(lines).isNotEmpty();
        String last = lines.get(lines.size() - 1);
        assertThat(last).contains("13/20").contains("loss 0.5000").contains("0:00:07"); // 7 steps x 1 s
        assertThat(lines.get(0)).contains("/20");
    }
}
