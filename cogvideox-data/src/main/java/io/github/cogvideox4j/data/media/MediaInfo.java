package io.github.cogvideox4j.data.media;

import com.google.common.base.Preconditions;
import io.github.cogvideox4j.data.manifest.MediaType;
import java.util.Objects;

/**
 * What a probe finds in a media file. Images have one frame and fps 0.
 *
 * <p>Thread safety: immutable.
 *
 * @param type video or image
 * @param frames number of frames (decoded frames of the best video stream), at least 1
 * @param fps average frame rate, 0 when unknown or for images
 * @param height frame height in pixels (coded size of the stream; display rotation is not applied)
 * @param width frame width in pixels
 */
public record MediaInfo(MediaType type, int frames, double fps, int height, int width) {
    /** Checks the components. */
    public MediaInfo {
        Objects.requireNonNull(type, "type");
        Preconditions.checkArgument(frames >= 1, "frames must be >= 1, got %s", frames);
        Preconditions.checkArgument(fps >= 0 && Double.isFinite(fps), "fps must be finite and >= 0, got %s", fps);
        Preconditions.checkArgument(height >= 1 && width >= 1, "size must be positive, got %sx%s", height, width);
    }

    /** @return duration in seconds ({@code frames / fps}), or 0 when fps is unknown */
    public double durationSeconds() {
        return fps > 0 ? frames / fps : 0;
    }
}
