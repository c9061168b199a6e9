package io.github.cogvideox4j.lora.train;

import io.github.cogvideox4j.core.CogVideoXException;

/**
 * A checkpoint that must not be written or cannot be used: a non-finite tensor or state value refused before
 * anything is written, or a checkpoint folder whose content is inconsistent. The message names the checkpoint
 * folder, the tensor or state key, and what was expected. (Failed disk I/O is an {@link java.io.IOException}.)
 *
 * <p>Thread safety: immutable.
 */
public class CheckpointException extends CogVideoXException {
    private static final long serialVersionUID = 1L;

    /**
     * @param message what is wrong, naming the folder and the tensor or key
     */
    public CheckpointException(String message) {
        super(message);
    }

    /**
     * @param message what is wrong, naming the folder and the tensor or key
     * @param cause the underlying failure
     */
    public CheckpointException(String message, Throwable cause) {
        super(message, cause);
    }
}
