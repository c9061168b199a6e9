package io.github.cogvideox4j.core.schedule;

import io.github.cogvideox4j.core.CogVideoXException;

/**
 * A scheduler config the port cannot reproduce (unknown class, beta schedule, prediction type or timestep
 * spacing), a timestep outside {@code [0, num_train_timesteps)}, or tensors whose shapes do not fit together in
 * the noise schedule, the training objective or a sampling step. Messages name the file or tensor and the expected
 * versus actual value.
 *
 * <p>Thread safety: immutable.
 */
public class SchedulerException extends CogVideoXException {
    private static final long serialVersionUID = 1L;

    /** @param message what is wrong, with expected and actual values */
    public SchedulerException(String message) {
        super(message);
    }

    /**
     * @param message what is wrong
     * @param cause the underlying failure
     */
    public SchedulerException(String message, Throwable cause) {
        super(message, cause);
    }
}
