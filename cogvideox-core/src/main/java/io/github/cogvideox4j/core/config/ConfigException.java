package io.github.cogvideox4j.core.config;

import io.github.cogvideox4j.core.CogVideoXException;

/**
 * A configuration file or value that cannot be used: unreadable JSON, a value out of range, or a
 * combination the model does not support. The message names the file (when there is one), the key,
 * and the expected versus actual value.
 */
public class ConfigException extends CogVideoXException {
    private static final long serialVersionUID = 1L;

    /** @param message what is wrong, naming the key and expected vs actual */
    public ConfigException(String message) {
        super(message);
    }

    /**
     * @param message what is wrong
     * @param cause the underlying failure
     */
    public ConfigException(String message, Throwable cause) {
        super(message, cause);
    }
}
