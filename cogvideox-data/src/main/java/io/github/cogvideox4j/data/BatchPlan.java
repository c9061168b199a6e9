package io.github.cogvideox4j.data;

import java.util.Arrays;
import java.util.Objects;

/**
 * One planned batch: the samples (dataset indices) a rank loads at one step of one epoch, all of one bucket and one
 * kind (image or video).
 *
 * <p>Thread safety: immutable ({@link #sampleIndices()} returns a copy).
 */
public final class BatchPlan {
    private final int epoch;
    private final int step;
    private final Bucket bucket;
    private final boolean image;
    /** Shared with the epoch plan, never written after planning; this batch is {@code [offset, offset + size)}. */
    private final int[] source;
    private final int offset;
    private final int size;

    /** A view of {@code source[offset, offset + size)}, which nobody writes any more. */
    BatchPlan(int epoch, int step, Bucket bucket, boolean image, int[] source, int offset, int size) {
        this.epoch = epoch;
        this.step = step;
        this.bucket = bucket;
        this.image = image;
        this.source = source;
        this.offset = offset;
        this.size = size;
    }

    /** @return the epoch */
    public int epoch() {
        return epoch;
    }

    /** @return the position of this batch in the rank's epoch (the step to resume from is the next one) */
    public int step() {
        return step;
    }

    /** @return the bucket shared by every sample */
    public Bucket bucket() {
        return bucket;
    }

    /** @return true for a batch of images, false for videos */
    public boolean image() {
        return image;
    }

    /** @return number of samples */
    public int size() {
        return size;
    }

    /**
     * @param i position in the batch
     * @return the dataset index at that position
     */
    public int sampleIndex(int i) {
        java.util.Objects.checkIndex(i, size);
        return source[offset + i];
    }

    /** @return a copy of the dataset indices, in batch order */
    public int[] sampleIndices() {
        return Arrays.copyOfRange(source, offset, offset + size);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BatchPlan p && epoch == p.epoch && step == p.step && image == p.image
                && bucket.equals(p.bucket)
                && Arrays.equals(source, offset, offset + size, p.source, p.offset, p.offset + p.size);
    }

    @Override
    public int hashCode() {
        return Objects.hash(epoch, step, bucket, image) * 31 + Arrays.hashCode(sampleIndices());
    }

    @Override
    public String toString() {
        return "BatchPlan[epoch " + epoch + ", step " + step + ", " + (image ? "image " : "video ") + bucket + ", "
                + Arrays.toString(sampleIndices()) + "]";
    }
}
