package io.github.cogvideox4j.data.media;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Finds frame count, fps and size of a media file.
 *
 * <p>Thread safety: implementations state theirs; {@link FfmpegMedia} and {@link ProbeCache} are safe for
 * concurrent use.
 */
@FunctionalInterface
public interface MediaProber {
    /**
     * Probes one file.
     *
     * @param file a video or image
     * @return what the file holds
     * @throws IOException if the file cannot be read
     * @throws MediaDecodeException if the file is not a decodable video or image (message names the file)
     */
    MediaInfo probe(Path file) throws IOException;
}
