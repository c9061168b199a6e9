package io.github.cogvideox4j.data.media;

import io.github.cogvideox4j.core.CogVideoXException;
import java.nio.file.Path;

/** A media file cannot be probed or decoded; the message names the file and what failed. */
public class MediaDecodeException extends CogVideoXException {
    private static final long serialVersionUID = 1L;

    /**
     * @param file the media file
     * @param message what failed (FFmpeg's error text where there is one)
     */
    public MediaDecodeException(Path file, String message) {
        super(file + ": " + message);
    }

    /**
     * @param file the media file
     * @param message what failed
     * @param cause the underlying error
     */
    public MediaDecodeException(Path file, String message, Throwable cause) {
        super(file + ": " + message, cause);
    }
}
