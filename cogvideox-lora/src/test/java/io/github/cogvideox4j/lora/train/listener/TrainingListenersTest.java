package io.github.cogvideox4j.lora.train.listener;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.cogvideox4j.lora.train.StepResult;
import io.github.cogvideox4j.lora.train.TrainingListener;
import io.github.cogvideox4j.lora.train.TrainingStart;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.junit.jupiter.api.Test;
import org.slf4j.event.EventRecordingLogger;
import org.slf4j.event.Level;
import org.slf4j.event.SubstituteLoggingEvent;
import org.slf4j.helpers.SubstituteLogger;

/** The failure-proof composite and the logging listener. */
class TrainingListenersTest {
    private static StepResult step(long s, boolean skipped) {
        return new StepResult(s, 0, skipped ? Double.NaN : 0.5, 1e-4, 0.5, skipped, "9x64x96", 100);
    }

    @Test
    void aFailingListenerDoesNotStopTheOthers() {
        List<String> seen = new ArrayList<>();
        TrainingListener throwing = new TrainingListener() {
            @Override
            public void onStep(StepResult r) {
                throw new IllegalStateException("boom");
            }

            @Override
            public void onEnd(long lastStep) {
                throw new NoClassDefFoundError("org/knowm/xchart/XYChart"); // optional library missing
            }
        };
        TrainingListener recording = new TrainingListener() {
            @Override
            public void onStep(StepResult r) {
                seen.add("step " + r.step());
            }

            @Override
            public void onEnd(long lastStep) {
                seen.add("end " + lastStep);
            }
        };
        TrainingListener safe = TrainingListeners.safe(throwing, recording);
        safe.onStart(new TrainingStart(1, 2, Path.of("out"), "t"));
        safe.onStep(step(1, false));
        safe.onStep(step(2, false));
        safe.onEnd(2);
        assertThat(seen).containsExactly("step 1", "step 2", "end 2");
    }

    @Test
    void loggingListenerLogsEveryNthStepAndEverySkippedStep() {
        Queue<SubstituteLoggingEvent> events = new ConcurrentLinkedQueue<>();
        EventRecordingLogger log = new EventRecordingLogger(new SubstituteLogger("test", events, false), events);
        LoggingListener l = new LoggingListener(3, log);
        l.onStart(new TrainingStart(5, 7, Path.of("out"), "tiny"));
        l.onStep(step(5, false));
        l.onStep(step(6, false));
        l.onStep(step(7, true));
        l.onEnd(7);
        assertThat(events).extracting(e -> e.getLevel() + " " + e.getMessage().split(" ")[0] + " "
                + (e.getArgumentArray() == null || e.getArgumentArray().length == 0 ? "" : e.getArgumentArray()[0]))
                .containsExactly("INFO resuming 5", "INFO step 6", "WARN step 7", "INFO training 7");
        assertThat(events.stream().filter(e -> e.getLevel() == Level.WARN)).hasSize(1);
    }
}
