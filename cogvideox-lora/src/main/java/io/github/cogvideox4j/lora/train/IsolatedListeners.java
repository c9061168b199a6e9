package io.github.cogvideox4j.lora.train;

import static com.google.common.base.Preconditions.checkNotNull;

import java.nio.file.Path;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place where a run tells its listeners an event: {@link FineTuner} builds one over its listeners, and it and
 * {@link TrainingRun} send every event through it. Each listener gets each event in registration order; a listener
 * that fails never stops training nor keeps the event from the listeners after it.
 *
 * <p>Policy: a {@link RuntimeException} or a {@link LinkageError} (e.g. {@code NoClassDefFoundError} when a
 * listener's optional library is missing from the class path) is logged at WARN — with its stack trace the first
 * time a listener fails, as one line with the count afterwards — and swallowed: listeners report progress, and a
 * broken report must not cost hours of training. Every other {@link Error} ({@code OutOfMemoryError},
 * {@code StackOverflowError}, ...) and checked exceptions smuggled past the compiler propagate: the JVM or the code is
 * then in no state to go on.
 *
 * <p>Thread safety: confined to the training thread (it counts failures per listener).
 */
final class IsolatedListeners implements TrainingListener {
    private static final Logger DEFAULT_LOG = LoggerFactory.getLogger(IsolatedListeners.class);

    private final List<TrainingListener> listeners;
    private final Logger log;
    private final Map<TrainingListener, Integer> failures = new IdentityHashMap<>();

    /**
     * @param listeners the listeners, in call order (copied)
     */
    IsolatedListeners(List<? extends TrainingListener> listeners) {
        this(listeners, DEFAULT_LOG);
    }

    IsolatedListeners(List<? extends TrainingListener> listeners, Logger log) {
        this.listeners = List.copyOf(checkNotNull(listeners, "listeners"));
        this.log = checkNotNull(log, "log");
    }

    /** @return the listeners, in call order; unmodifiable */
    List<TrainingListener> listeners() {
        return listeners;
    }

    private void each(String event, Consumer<TrainingListener> call) {
        for (TrainingListener l : listeners) {
            try {
                call.accept(l);
            } catch (RuntimeException | LinkageError e) {
                int n = failures.merge(l, 1, Integer::sum);
                if (n == 1) {
                    log.warn("listener {} failed on {}; training goes on", l.getClass().getName(), event, e);
                } else {
                    log.warn("listener {} failed on {} ({} failures so far): {}", l.getClass().getName(), event, n,
                            e.toString());
                }
            }
        }
    }

    @Override
    public void onStart(TrainingStart start) {
        each("start", l -> l.onStart(start));
    }

    @Override
    public void onStep(StepResult result) {
        each("step " + result.step(), l -> l.onStep(result));
    }

    @Override
    public void onCheckpoint(long step, Path dir) {
        each("checkpoint " + step, l -> l.onCheckpoint(step, dir));
    }

    @Override
    public void onValidation(long step, double loss) {
        each("validation " + step, l -> l.onValidation(step, loss));
    }

    @Override
    public void onValidationVideos(long step, List<Path> files) {
        each("validation videos " + step, l -> l.onValidationVideos(step, files));
    }

    @Override
    public void onEnd(long lastStep) {
        each("end", l -> l.onEnd(lastStep));
    }
}
