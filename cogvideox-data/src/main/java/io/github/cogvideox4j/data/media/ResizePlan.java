package io.github.cogvideox4j.data.media;

import com.google.common.base.Preconditions;
import java.util.Objects;
import java.util.random.RandomGenerator;

/**
 * Geometry of fitting a source frame into a bucket: scale the whole frame to {@code scaledHeight x scaledWidth},
 * then cut {@code height x width} at ({@code top}, {@code left}).
 *
 * <p>Cover scale: {@code s = max(H / h_src, W / w_src)}, scaled sizes {@code max(H, round(h_src s))} and
 * {@code max(W, round(w_src s))} (so rounding never leaves the bucket uncovered); the centre cut starts at
 * {@code floor((scaled - target) / 2)}, as torchvision's {@code center_crop} rounds.
 *
 * <p>Thread safety: immutable.
 *
 * @param scaledHeight height of the resized frame
 * @param scaledWidth width of the resized frame
 * @param top first row of the cut
 * @param left first column of the cut
 * @param height bucket height
 * @param width bucket width
 */
public record ResizePlan(int scaledHeight, int scaledWidth, int top, int left, int height, int width) {
    /** Checks that the cut lies inside the scaled frame. */
    public ResizePlan {
        Preconditions.checkArgument(height >= 1 && width >= 1, "target size must be positive");
        Preconditions.checkArgument(top >= 0 && left >= 0 && top + height <= scaledHeight
                && left + width <= scaledWidth, "cut %sx%s at (%s, %s) outside scaled frame %sx%s", height, width,
                top, left, scaledHeight, scaledWidth);
    }

    /**
     * Plans the resize of one source size into a target size.
     *
     * @param sourceHeight source frame height
     * @param sourceWidth source frame width
     * @param height target height
     * @param width target width
     * @param mode resize mode
     * @param random source of the random cut offset ({@link ResizeMode#RANDOM_CROP} only; may be null otherwise)
     * @return the plan
     */
    public static ResizePlan of(int sourceHeight, int sourceWidth, int height, int width, ResizeMode mode,
            RandomGenerator random) {
        Preconditions.checkArgument(sourceHeight >= 1 && sourceWidth >= 1, "source size must be positive, got %sx%s",
                sourceHeight, sourceWidth);
        Objects.requireNonNull(mode, "mode");
        if (mode == ResizeMode.RESIZE) {
            return new ResizePlan(height, width, 0, 0, height, width);
        }
        double scale = Math.max((double) height / sourceHeight, (double) width / sourceWidth);
        int sh = Math.max(height, (int) Math.round(sourceHeight * scale));
        int sw = Math.max(width, (int) Math.round(sourceWidth * scale));
        if (mode == ResizeMode.CENTER_CROP) {
            return new ResizePlan(sh, sw, (sh - height) / 2, (sw - width) / 2, height, width);
        }
        Objects.requireNonNull(random, "random (needed for RANDOM_CROP)");
        return new ResizePlan(sh, sw, random.nextInt(sh - height + 1), random.nextInt(sw - width + 1), height, width);
    }
}
