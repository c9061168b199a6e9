package io.github.cogvideox4j.data.loader;

import io.github.cogvideox4j.core.CogVideoXException;

/**
 * A sample could not be loaded under {@link BadSamplePolicy#FAIL}, or the batch plan itself failed. The message
 * names the sample index and its source (file); the cause is the original error.
 */
public class SampleLoadException extends CogVideoXException {
    private static final long serialVersionUID = 1L;

    /**
     * @param message what failed, naming the sample
     * @param cause the original error
     */
    public SampleLoadException(String message, Throwable cause) {
        super(message, cause);
    }
}
