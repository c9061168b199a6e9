package io.github.cogvideox4j.lora.train;

import java.nio.file.Path;
import java.util.List;

/**
 * Receives the events of a fine-tuning run. All methods have empty defaults; implement what you need. Listeners are
 * called on the training thread, in registration order. A {@link RuntimeException} or {@link LinkageError} (e.g. an
 * optional library missing from the class path) thrown by a listener is logged at WARN and stops neither training nor
 * the other listeners; other errors ({@code OutOfMemoryError}, ...) propagate.
 */
public interface TrainingListener {
    /**
     * @param start the run's first step, total steps and output folder
     */
    default void onStart(TrainingStart start) {}

    /**
     * @param result what the step did
     */
    default void onStep(StepResult result) {}

    /**
     * @param step the step the checkpoint holds
     * @param dir the checkpoint folder
     */
    default void onCheckpoint(long step, Path dir) {}

    /**
     * @param step the step after which validation ran
     * @param loss the held-out loss at fixed seeds and timesteps
     */
    default void onValidation(long step, double loss) {}

    /**
     * @param step the step after which the validation videos were sampled
     * @param files the files written ({@code prompt-<k>.mp4} and {@code prompt-<k>.png} per prompt, see
     *     {@link ValidationVideos#run}); unmodifiable
     */
    default void onValidationVideos(long step, List<Path> files) {}

    /**
     * @param lastStep the last step run
     */
    default void onEnd(long lastStep) {}
}
