package io.github.cogvideox4j.core;

/**
 * Root of the SDK's unchecked domain exceptions. Messages name the file, the tensor, and the expected
 * versus actual value wherever those apply, so that the user can act on them.
 *
 * <p>Thread safety: immutable.
 */
public class CogVideoXException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** @param message what went wrong, with file, tensor, expected and actual where they apply */
    public CogVideoXException(String message) {
        super(message);
    }

    /**
     * @param message what went wrong
     * @param cause the underlying failure
     */
    public CogVideoXException(String message, Throwable cause) {
        super(message, cause);
    }
}
