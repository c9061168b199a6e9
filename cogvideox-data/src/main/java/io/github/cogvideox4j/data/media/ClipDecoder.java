package io.github.cogvideox4j.data.media;

import io.github.cogvideox4j.core.EngineArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.google.common.base.Preconditions;
import io.github.cogvideox4j.data.Bucket;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.random.RandomGenerator;

/**
 * Decodes a clip to a bucket: the caller's frame indices (from a bucket rule), the frame fitted to the bucket's
 * height x width by a {@link ResizeMode}, pixels mapped to {@code x / 255 * 2 - 1} in [-1, 1].
 *
 * <p>Result shape {@code [F, 3, H, W]} (F = number of frame indices, H x W = the bucket's pixel size), float32,
 * channels R, G, B. The bucket's frame count must equal the number of indices; indices may repeat (the CogVideo
 * trainer repeats the last frame of short videos).
 *
 * <p>Thread safety: safe for concurrent use (each call decodes independently); the returned array belongs to the
 * caller's manager.
 */
public final class ClipDecoder {
    private final FfmpegMedia media;

    /**
     * @param media the decoder of videos and images
     */
    public ClipDecoder(FfmpegMedia media) {
        this.media = Objects.requireNonNull(media, "media");
    }

    /**
     * Decodes a clip into the caller's manager.
     *
     * @param file video or image
     * @param info the file's probe (source size for the resize plan)
     * @param frameIndices frame indices in decode order, {@code bucket.frames()} of them
     * @param bucket target frames x height x width (pixels)
     * @param mode resize mode
     * @param random offset source for {@link ResizeMode#RANDOM_CROP} (may be null for other modes)
     * @param manager owner of the result
     * @return {@code [F, 3, H, W]} float32 in [-1, 1], owned by {@code manager}
     * @throws IOException if the file cannot be read
     * @throws MediaDecodeException if decoding fails or an index is past the end of the video
     */
    public NDArray decode(Path file, MediaInfo info, int[] frameIndices, Bucket bucket, ResizeMode mode,
            RandomGenerator random, NDManager manager) throws IOException {
        Objects.requireNonNull(manager, "manager");
        float[] pixels = decodeFloats(file, info, frameIndices, bucket, mode, random);
        return EngineArrays.create(manager, pixels,
                new Shape(frameIndices.length, 3, bucket.height(), bucket.width()));
    }

    /**
     * Decodes a clip into a Java array, laid out as {@code [F, 3, H, W]} row-major (no native memory).
     *
     * @param file video or image
     * @param info the file's probe
     * @param frameIndices frame indices, {@code bucket.frames()} of them
     * @param bucket target size
     * @param mode resize mode
     * @param random offset source for {@link ResizeMode#RANDOM_CROP}
     * @return {@code F * 3 * H * W} floats in [-1, 1]
     * @throws IOException if the file cannot be read
     * @throws MediaDecodeException if decoding fails
     */
    public float[] decodeFloats(Path file, MediaInfo info, int[] frameIndices, Bucket bucket, ResizeMode mode,
            RandomGenerator random) throws IOException {
        Objects.requireNonNull(info, "info");
        Objects.requireNonNull(bucket, "bucket");
        Preconditions.checkArgument(frameIndices.length == bucket.frames(),
                "%s: %s frame indices for bucket %s (frames must match)", file, frameIndices.length, bucket);
        for (int idx : frameIndices) {
            if (idx < 0 || idx >= info.frames()) {
                throw new MediaDecodeException(file, "frame index " + idx + " outside [0, " + info.frames() + ")");
            }
        }
        ResizePlan plan = ResizePlan.of(info.height(), info.width(), bucket.height(), bucket.width(), mode, random);
        List<byte[]> frames = media.decodeRgb(file, frameIndices, plan.scaledHeight(), plan.scaledWidth());
        int h = plan.height();
        int w = plan.width();
        int plane = h * w;
        float[] out = new float[frameIndices.length * 3 * plane];
        for (int f = 0; f < frames.size(); f++) {
            byte[] rgb = frames.get(f);
            int base = f * 3 * plane;
            for (int y = 0; y < h; y++) {
                int src = ((plan.top() + y) * plan.scaledWidth() + plan.left()) * 3;
                int dst = y * w;
                for (int x = 0; x < w; x++, src += 3) {
                    out[base + dst + x] = (rgb[src] & 0xFF) / 127.5f - 1f;
                    out[base + plane + dst + x] = (rgb[src + 1] & 0xFF) / 127.5f - 1f;
                    out[base + 2 * plane + dst + x] = (rgb[src + 2] & 0xFF) / 127.5f - 1f;
                }
            }
        }
        return out;
    }
}
