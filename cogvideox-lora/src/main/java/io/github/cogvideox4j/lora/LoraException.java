package io.github.cogvideox4j.lora;

import io.github.cogvideox4j.core.CogVideoXException;

/**
 * A LoRA file or adapter that cannot be used as asked: unknown or missing tensor names, shape or rank mismatches,
 * an alpha that disagrees with the configuration, non-finite values, or an all-zero {@code lora_B} at export. The
 * message names the file, the tensor and what was expected.
 */
public class LoraException extends CogVideoXException {
    private static final long serialVersionUID = 1L;

    /**
     * @param message what is wrong, naming the file and tensor
     */
    public LoraException(String message) {
        super(message);
    }

    /**
     * @param message what is wrong, naming the file and tensor
     * @param cause the underlying failure
     */
    public LoraException(String message, Throwable cause) {
        super(message, cause);
    }
}
