package io.github.cogvideox4j.lora.train.listener;

import static com.google.common.base.Preconditions.checkNotNull;

import io.github.cogvideox4j.lora.train.StepResult;
import io.github.cogvideox4j.lora.train.TrainingListener;
import io.github.cogvideox4j.lora.train.TrainingStart;
import java.nio.file.Path;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Combines listeners so that a failing one never stops training.
 *
 * <p>Thread safety: stateless; the composite it returns is confined to the training thread.
 */
public final class TrainingListeners {
    private static final Logger LOG = LoggerFactory.getLogger(TrainingListeners.class);

    private TrainingListeners() {}

    /**
     * A listener that forwards every event to {@code listeners} in order. An exception (or a {@link LinkageError},
     * e.g. an optional library missing from the class path) thrown by one listener is logged — with its stack trace
     * the first time, as one line afterwards — and the other listeners still get the event. Other errors
     * ({@code OutOfMemoryError}, ...) propagate.
     *
     * @param listeners the listeners, in call order (copied)
     * @return the composite
     */
    public static TrainingListener safe(List<? extends TrainingListener> listeners) {
        return new Safe(List.copyOf(checkNotNull(listeners, "listeners")));
    }

    /**
     * @param listeners the listeners, in call order
     * @return the composite of {@link #safe(List)}
     */
    public static TrainingListener safe(TrainingListener... listeners) {
        return safe(List.of(listeners));
    }

    private static final class Safe implements TrainingListener {
        private final List<TrainingListener> listeners;
        private final Map<TrainingListener, Integer> failures = new IdentityHashMap<>();

        Safe(List<TrainingListener> listeners) {
            this.listeners = listeners;
        }

        private void each(String event, Consumer<TrainingListener> call) {
            for (TrainingListener l : listeners) {
                try {
                    call.accept(l);
                } catch (RuntimeException | LinkageError e) {
                    int n = failures.merge(l, 1, Integer::sum);
                    if (n == 1) {
                        LOG.warn("listener {} failed on {}; training goes on", l.getClass().getName(), event, e);
                    } else {
                        LOG.warn("listener {} failed on {} ({} failures so far): {}", l.getClass().getName(), event,
                                n, e.toString());
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
}
