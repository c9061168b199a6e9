package io.github.cogvideox4j.data;

import com.google.common.base.Preconditions;

/**
 * A training shape: every sample of a batch is resized and cut to one bucket. Sizes are whatever unit the bucket
 * set uses (pixel frames and pixels for the reference trainers' configs; some reference configs use latent-scaled
 * sizes such as 12x60x90). Model frame rules (4k+1 frames, multiples of 16) are checked where a bucket set meets a
 * model, not here.
 *
 * <p>Thread safety: immutable.
 *
 * @param frames frame count, positive
 * @param height height, positive
 * @param width width, positive
 */
public record Bucket(int frames, int height, int width) {
    /** Checks that every size is positive. */
    public Bucket {
        Preconditions.checkArgument(frames > 0 && height > 0 && width > 0,
                "bucket sizes must be positive, got %sx%sx%s (frames x height x width)", frames, height, width);
    }

    @Override
    public String toString() {
        return frames + "x" + height + "x" + width;
    }
}
