package io.github.cogvideox4j.data.cache;

import ai.djl.ndarray.NDArray;
import com.google.common.base.Preconditions;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalDouble;

/**
 * The tensors of one cache entry.
 *
 * <p>Ownership: the arrays belong to whoever created them (the manager passed to {@link LatentCache#read}); this
 * record closes nothing. Thread safety: immutable references; the arrays themselves are not thread-safe.
 *
 * @param videoMoments {@code [2C, F_lat, h, w]} mean || log-variance, unscaled
 * @param promptEmbedding {@code [S, D]} text embedding
 * @param imageMoments I2V: {@code [2C, 1, h, w]} moments of the first frame encoded after pixel noise
 * @param scalingFactor the VAE scaling factor to apply to sampled latents
 * @param imageNoiseSigma I2V: the pixel-space noise sigma drawn at preparation
 */
public record CachedSample(NDArray videoMoments, NDArray promptEmbedding, Optional<NDArray> imageMoments,
        float scalingFactor, OptionalDouble imageNoiseSigma) {
    /** Checks ranks and that I2V fields come together. */
    public CachedSample {
        Objects.requireNonNull(videoMoments, "videoMoments");
        Objects.requireNonNull(promptEmbedding, "promptEmbedding");
        Objects.requireNonNull(imageMoments, "imageMoments");
        Objects.requireNonNull(imageNoiseSigma, "imageNoiseSigma");
        Preconditions.checkArgument(videoMoments.getShape().dimension() == 4
                && videoMoments.getShape().get(0) % 2 == 0, "videoMoments must be [2C, F, h, w], got %s",
                videoMoments.getShape());
        Preconditions.checkArgument(promptEmbedding.getShape().dimension() == 2,
                "promptEmbedding must be [S, D], got %s", promptEmbedding.getShape());
        Preconditions.checkArgument(imageMoments.isPresent() == imageNoiseSigma.isPresent(),
                "imageMoments and imageNoiseSigma must both be present or both absent");
        Preconditions.checkArgument(Float.isFinite(scalingFactor) && scalingFactor > 0,
                "scalingFactor must be positive, got %s", scalingFactor);
    }
}
