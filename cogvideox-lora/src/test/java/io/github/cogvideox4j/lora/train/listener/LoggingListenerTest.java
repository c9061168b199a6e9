package io.github.cogvideox4j.lora.train.listener;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.cogvideox4j.lora.train.StepResult;
import io.github.cogvideox4j.lora.train.TrainingStart;
import java.nio.file.Path;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.junit.jupiter.api.Test;
import org.slf4j.event.EventRecordingLogger;
import org.slf4j.event.Level;
import org.slf4j.event.SubstituteLoggingEvent;
import org.slf4j.helpers.SubstituteLogger;

/** The logging listener. */
class LoggingListenerTest {
    private static StepResult step(long s, boolean skipped) {
        return new StepResult(s, 0, skipped ? Double.NaN : 0.5, 1e-4, 0.5, skipped, "9x64x96", 100);
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
