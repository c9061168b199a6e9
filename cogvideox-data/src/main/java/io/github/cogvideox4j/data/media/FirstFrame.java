package io.github.cogvideox4j.data.media;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.google.common.base.Preconditions;
import io.github.cogvideox4j.core.EngineArrays;
import io.github.cogvideox4j.data.Bucket;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Objects;

/**
 * The first frame of an image or video file as an image-to-video conditioning image: frame 0 fitted to
 * {@code height x width} by a {@link ResizeMode#CENTER_CROP} (as the cache fits its clips), pixels {@code x / 255}.
 *
 * <p>Result {@code [3, H, W]} FLOAT32 in [0, 1], channels R, G, B, the form
 * {@code CogVideoXPipeline}'s {@code image} takes. Thread safety: safe for concurrent use (stateless).
 */
public final class FirstFrame {
    private FirstFrame() {}

    /**
     * Decodes frame 0 of a file.
     *
     * @param prober probes the file (a {@link ProbeCache} or {@link FfmpegMedia})
     * @param media the decoder
     * @param file an image or a video
     * @param height pixel height of the result
     * @param width pixel width of the result
     * @param manager owner of the result
     * @return {@code [3, height, width]} FLOAT32 in [0, 1], owned by {@code manager}
     * @throws IOException if the file cannot be read
     * @throws MediaDecodeException if it cannot be decoded
     */
    public static NDArray read(MediaProber prober, FfmpegMedia media, Path file, int height, int width,
            NDManager manager) throws IOException {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(manager, "manager");
        Preconditions.checkArgument(height > 0 && width > 0, "size must be positive, got %sx%s", height, width);
        float[] v = new ClipDecoder(media).decodeFloats(file, prober.probe(file), new int[] {0},
                new Bucket(1, height, width), ResizeMode.CENTER_CROP, null);
        for (int i = 0; i < v.length; i++) {
            v[i] = (v[i] + 1f) * 0.5f;                      // the decoder's x / 127.5 - 1 back to [0, 1]
        }
        return EngineArrays.create(manager, v, new Shape(3, height, width));
    }
}
