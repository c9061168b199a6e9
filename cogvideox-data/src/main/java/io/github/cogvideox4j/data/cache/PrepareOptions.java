package io.github.cogvideox4j.data.cache;

import com.google.common.base.Preconditions;
import io.github.cogvideox4j.core.io.SafetensorsDType;
import io.github.cogvideox4j.data.media.ResizeMode;
import java.util.Objects;

/**
 * How {@link CachePreparer} turns media into cache entries.
 *
 * <p>Thread safety: immutable.
 *
 * @param resizeMode how frames meet the bucket
 * @param dtype storage dtype (F32 or F16)
 * @param imageToVideo whether to store I2V image moments
 * @param imageNoiseMean mean of log sigma of the I2V pixel noise (-3.0 in every reference trainer)
 * @param imageNoiseStd standard deviation of log sigma (0.5)
 * @param seed seed of the random crop and the I2V noise; each sample derives its own stream from it and its
 *     content hash, so results do not depend on preparation order
 */
public record PrepareOptions(ResizeMode resizeMode, SafetensorsDType dtype, boolean imageToVideo,
        double imageNoiseMean, double imageNoiseStd, long seed) {
    /** Checks the components. */
    public PrepareOptions {
        Objects.requireNonNull(resizeMode, "resizeMode");
        Preconditions.checkArgument(dtype == SafetensorsDType.F32 || dtype == SafetensorsDType.F16,
                "dtype must be F32 or F16, got %s", dtype);
        Preconditions.checkArgument(imageNoiseStd >= 0, "imageNoiseStd must be >= 0");
    }

    /**
     * Text-to-video defaults: the given resize mode, F16 storage, no image latents, seed 0.
     *
     * @param resizeMode how frames meet the bucket
     * @return the options
     */
    public static PrepareOptions textToVideo(ResizeMode resizeMode) {
        return new PrepareOptions(resizeMode, SafetensorsDType.F16, false, -3.0, 0.5, 0L);
    }

    /**
     * Image-to-video defaults: as {@link #textToVideo} plus image moments with sigma = exp(N(-3, 0.5)).
     *
     * @param resizeMode how frames meet the bucket
     * @return the options
     */
    public static PrepareOptions imageToVideo(ResizeMode resizeMode) {
        return new PrepareOptions(resizeMode, SafetensorsDType.F16, true, -3.0, 0.5, 0L);
    }

    /**
     * @param newSeed the seed
     * @return a copy with another seed
     */
    public PrepareOptions withSeed(long newSeed) {
        return new PrepareOptions(resizeMode, dtype, imageToVideo, imageNoiseMean, imageNoiseStd, newSeed);
    }

    /**
     * @param newDtype F32 or F16
     * @return a copy with another storage dtype
     */
    public PrepareOptions withDtype(SafetensorsDType newDtype) {
        return new PrepareOptions(resizeMode, newDtype, imageToVideo, imageNoiseMean, imageNoiseStd, seed);
    }
}
