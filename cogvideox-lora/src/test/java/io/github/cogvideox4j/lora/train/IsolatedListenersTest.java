package io.github.cogvideox4j.lora.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.EngineArrays;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.config.CogVideoXVariant;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import io.github.cogvideox4j.core.schedule.CogVideoXDpmScheduler;
import io.github.cogvideox4j.core.schedule.SchedulerConfig;
import io.github.cogvideox4j.core.schedule.TrainingInput;
import io.github.cogvideox4j.lora.LoraAdapter;
import io.github.cogvideox4j.lora.LoraConfig;
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

/** One policy for failing listeners: RuntimeException and LinkageError are logged and isolated, other errors not. */
class IsolatedListenersTest {
    private static StepResult step(long s) {
        return new StepResult(s, 0, 0.5, 1e-4, 0.5, false, "9x64x96", 100);
    }

    /** Throws {@code onStep}'s and {@code onEnd}'s errors; records nothing. */
    private static TrainingListener throwing(RuntimeException onStep, Error onEnd) {
        return new TrainingListener() {
            @Override
            public void onStep(StepResult r) {
                throw onStep;
            }

            @Override
            public void onEnd(long lastStep) {
                throw onEnd;
            }
        };
    }

    private static TrainingListener recording(List<String> seen) {
        return new TrainingListener() {
            @Override
            public void onStep(StepResult r) {
                seen.add("step " + r.step());
            }

            @Override
            public void onEnd(long lastStep) {
                seen.add("end " + lastStep);
            }
        };
    }

    @Test
    void aRuntimeExceptionOrALinkageErrorOfOneListenerReachesNeitherTrainingNorTheOthers() {
        List<String> seen = new ArrayList<>();
        TrainingListener events = new IsolatedListeners(List.of(throwing(new IllegalStateException("boom"),
                new NoClassDefFoundError("org/knowm/xchart/XYChart")), recording(seen)));
        events.onStart(new TrainingStart(1, 2, Path.of("out"), "t"));
        events.onStep(step(1));
        events.onStep(step(2));
        events.onEnd(2);
        assertThat(seen).containsExactly("step 1", "step 2", "end 2");
    }

    @Test
    void otherErrorsPropagate() {
        List<String> seen = new ArrayList<>();
        TrainingListener events = new IsolatedListeners(List.of(throwing(new IllegalStateException("boom"),
                new OutOfMemoryError("Java heap space")), recording(seen)));
        assertThatThrownBy(() -> events.onEnd(2)).isInstanceOf(OutOfMemoryError.class);
        assertThat(seen).isEmpty();
    }

    @Test
    void theFirstFailureOfAListenerIsLoggedWithItsStackTraceLaterOnesAsOneLine() {
        Queue<SubstituteLoggingEvent> log = new ConcurrentLinkedQueue<>();
        TrainingListener events = new IsolatedListeners(List.of(throwing(new IllegalStateException("boom"),
                new NoClassDefFoundError("x"))), new EventRecordingLogger(new SubstituteLogger("t", log, false), log));
        events.onStep(step(1));
        events.onStep(step(2));
        events.onEnd(2);
        assertThat(log).allSatisfy(e -> assertThat(e.getLevel()).isEqualTo(Level.WARN));
        assertThat(log).extracting(e -> e.getThrowable() != null).containsExactly(true, false, false);
        assertThat(log).extracting(e -> e.getArgumentArray()[1]).containsExactly("step 1", "step 2", "end");
    }

    @Test
    void theFineTunerStepsOnWhenAListenerLacksItsLibrary() {
        List<String> seen = new ArrayList<>();
        CogVideoXConfig config = CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_5B);
        try (NDManager m = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(config, m, 1);
                LoraAdapter lora = LoraAdapter.inject(model, LoraConfig.of(4, 4));
                FineTuner tuner = FineTuner.builder(model,
                                new CogVideoXDpmScheduler(SchedulerConfig.released(SchedulerConfig.DPM_CLASS, 1.0)))
                        .lora(lora).listener(new TrainingListener() {
                            @Override
                            public void onStep(StepResult r) {
                                throw new NoClassDefFoundError("me/tongfei/progressbar/ProgressBar");
                            }
                        }).listener(recording(seen)).build()) {
            Shape shape = new Shape(1, 2, 4, 8, 12);
            TrainingInput in = TrainingInput.of(m.randomNormal(shape), m.randomNormal(new Shape(1, 8, 32)),
                    EngineArrays.create(m, new long[] {10}, new Shape(1)), m.randomNormal(shape));
            StepResult r = tuner.step(List.of(in), "2x8x12", List.of("clip.mp4"));
            assertThat(r.step()).isEqualTo(1);
            assertThat(seen).containsExactly("step 1");
        }
    }
}
