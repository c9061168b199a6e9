package io.github.cogvideox4j.data;

import com.google.common.base.Preconditions;

/**
 * One sample as the {@link BucketSampler} sees it: its index in the dataset, its bucket, and whether it is an image
 * (images and videos never share a batch, even in a bucket of one frame).
 *
 * <p>Thread safety: immutable.
 *
 * @param sampleIndex dataset index, non-negative and unique within a sampler
 * @param bucket the assigned bucket
 * @param image true for an image sample, false for a video
 */
public record BucketedSample(int sampleIndex, Bucket bucket, boolean image) {
    /** Validates the fields. */
    public BucketedSample {
        Preconditions.checkArgument(sampleIndex >= 0, "sampleIndex must be non-negative, got %s", sampleIndex);
        Preconditions.checkNotNull(bucket, "bucket");
    }

    /**
     * @param sampleIndex dataset index
     * @param bucket the bucket
     * @return a video sample
     */
    public static BucketedSample video(int sampleIndex, Bucket bucket) {
        return new BucketedSample(sampleIndex, bucket, false);
    }

    /**
     * @param sampleIndex dataset index
     * @param bucket the bucket
     * @return an image sample
     */
    public static BucketedSample image(int sampleIndex, Bucket bucket) {
        return new BucketedSample(sampleIndex, bucket, true);
    }
}
