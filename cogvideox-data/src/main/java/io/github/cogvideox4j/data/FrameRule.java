package io.github.cogvideox4j.data;

import com.google.common.base.Preconditions;
import io.github.cogvideox4j.core.config.CogVideoXVariant;
import java.util.List;

/**
 * A model variant's frame and size rules, applied where a bucket set meets a model (docs/data-buckets.md §3):
 * <ul>
 *   <li>pixel frames {@code 4k+1} (the VAE compresses time by 4 after the first frame);</li>
 *   <li>heights and widths multiples of 16 (VAE /8 then 2x2 patches);</li>
 *   <li>CogVideoX1.5 ({@code patch_size_t = 2}) also needs an even latent count: an odd one is either trimmed here or
 *       padded by the objective, per {@link OddLatentPolicy}.</li>
 * </ul>
 *
 * <p>Thread safety: immutable.
 */
public final class FrameRule {
    private static final int TEMPORAL_COMPRESSION = 4;
    private static final int SPATIAL_MULTIPLE = 16;

    private final String modelName;
    private final int patchSizeT;
    private final OddLatentPolicy oddLatentPolicy;

    private FrameRule(String modelName, int patchSizeT, OddLatentPolicy oddLatentPolicy) {
        this.modelName = modelName;
        this.patchSizeT = patchSizeT;
        this.oddLatentPolicy = Preconditions.checkNotNull(oddLatentPolicy, "oddLatentPolicy");
    }

    /**
     * @param variant the model variant
     * @param oddLatentPolicy used for 1.5 variants only
     * @return the rules of that variant
     */
    public static FrameRule of(CogVideoXVariant variant, OddLatentPolicy oddLatentPolicy) {
        return new FrameRule(variant.displayName(), variant.isVersion15() ? 2 : 1, oddLatentPolicy);
    }

    /** @return CogVideoX 1.0 rules (2B, 5B, 5B-I2V): 4k+1 frames, sides multiple of 16, any latent count */
    public static FrameRule cogVideoX10() {
        return new FrameRule("CogVideoX 1.0", 1, OddLatentPolicy.PAD_IN_OBJECTIVE);
    }

    /**
     * @param oddLatentPolicy trim here or pad in the objective
     * @return CogVideoX1.5 rules: as 1.0, plus an even latent count
     */
    public static FrameRule cogVideoX15(OddLatentPolicy oddLatentPolicy) {
        return new FrameRule("CogVideoX1.5", 2, oddLatentPolicy);
    }

    /** @return the configured policy (meaningful for 1.5) */
    public OddLatentPolicy oddLatentPolicy() {
        return oddLatentPolicy;
    }

    /**
     * @param pixelFrames a 4k+1 frame count
     * @return latent frames {@code (pixelFrames - 1) / 4 + 1}
     */
    public static int latentFrames(int pixelFrames) {
        Preconditions.checkArgument(pixelFrames > 0, "pixel frames must be positive, got %s", pixelFrames);
        return (pixelFrames - 1) / TEMPORAL_COMPRESSION + 1;
    }

    /**
     * Checks one bucket.
     *
     * @param bucket a pixel-space bucket
     * @throws IllegalArgumentException naming the bucket, the broken rule and the nearest valid values
     */
    public void checkBucket(Bucket bucket) {
        int f = bucket.frames();
        if ((f - 1) % TEMPORAL_COMPRESSION != 0) {
            int below = (f - 1) / TEMPORAL_COMPRESSION * TEMPORAL_COMPRESSION + 1;
            throw new IllegalArgumentException(String.format(
                    "%s: bucket %s has %d frames; the VAE needs 4k+1 pixel frames (nearest: %d or %d)", modelName,
                    bucket, f, below, below + TEMPORAL_COMPRESSION));
        }
        checkSide(bucket, "height", bucket.height());
        checkSide(bucket, "width", bucket.width());
    }

    private void checkSide(Bucket bucket, String name, int value) {
        if (value % SPATIAL_MULTIPLE != 0) {
            int below = value / SPATIAL_MULTIPLE * SPATIAL_MULTIPLE;
            throw new IllegalArgumentException(String.format(
                    "%s: bucket %s has %s %d, not a multiple of 16 (VAE /8 then 2x2 patches; nearest: %d or %d)",
                    modelName, bucket, name, value, below, below + SPATIAL_MULTIPLE));
        }
    }

    /**
     * Checks a bucket set.
     *
     * @param buckets pixel-space buckets
     * @throws IllegalArgumentException for the first bad bucket
     */
    public void checkBuckets(List<Bucket> buckets) {
        Preconditions.checkArgument(buckets != null && !buckets.isEmpty(), "the bucket list is empty");
        buckets.forEach(this::checkBucket);
    }

    /**
     * The bucket a clip is trained at: unchanged, except that for 1.5 with {@link OddLatentPolicy#TRIM} an odd latent
     * count (more than one) loses 4 pixel frames (49 -> 45).
     *
     * @param bucket a valid bucket (see {@link #checkBucket})
     * @return the bucket after the trim
     * @throws IllegalArgumentException if the bucket breaks the rules
     */
    public Bucket apply(Bucket bucket) {
        checkBucket(bucket);
        if (trims(bucket.frames())) {
            return new Bucket(bucket.frames() - TEMPORAL_COMPRESSION, bucket.height(), bucket.width());
        }
        return bucket;
    }

    /**
     * Applies {@link #apply(Bucket)} to an assignment, keeping the first frames.
     *
     * @param assignment an assignment whose bucket is valid
     * @return the assignment after the trim
     */
    public BucketAssignment apply(BucketAssignment assignment) {
        Bucket trimmed = apply(assignment.bucket());
        if (trimmed.equals(assignment.bucket())) {
            return assignment;
        }
        return assignment.firstFrames(trimmed, Math.min(assignment.frameCount(), trimmed.frames()));
    }

    private boolean trims(int pixelFrames) {
        return patchSizeT == 2 && oddLatentPolicy == OddLatentPolicy.TRIM && pixelFrames > 1
                && latentFrames(pixelFrames) % 2 != 0;
    }

    /**
     * Latent frames the objective prepends (copies of latent frame 0) for a bucket: 1 when a 1.5 model meets an odd
     * latent count that was not trimmed, else 0.
     *
     * @param bucket a valid bucket, after {@link #apply(Bucket)}
     * @return 0 or 1
     */
    public int latentPaddingFrames(Bucket bucket) {
        return patchSizeT == 2 && latentFrames(bucket.frames()) % 2 != 0 ? 1 : 0;
    }

    @Override
    public String toString() {
        return "FrameRule[" + modelName + (patchSizeT == 2 ? ", odd latents: " + oddLatentPolicy : "") + "]";
    }
}
