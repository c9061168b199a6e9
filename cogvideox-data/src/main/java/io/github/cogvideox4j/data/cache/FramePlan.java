package io.github.cogvideox4j.data.cache;

import com.google.common.base.Preconditions;
import io.github.cogvideox4j.data.Bucket;
import java.util.Arrays;
import java.util.Objects;

/**
 * Which bucket a sample goes to and which of its frames are read: what a bucket rule's assignment provides
 * (kept free of the bucket-rule types so either side can change).
 *
 * <p>Thread safety: immutable (the index array is copied in and out).
 *
 * @param bucket target frames x height x width (pixels)
 * @param frameIndices {@code bucket.frames()} frame indices in decode order
 */
public record FramePlan(Bucket bucket, int[] frameIndices) {
    /** Copies and checks the indices. */
    public FramePlan {
        Objects.requireNonNull(bucket, "bucket");
        frameIndices = frameIndices.clone();
        Preconditions.checkArgument(frameIndices.length == bucket.frames(),
                "%s frame indices for bucket %s", frameIndices.length, bucket);
    }

    @Override
    public int[] frameIndices() {
        return frameIndices.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof FramePlan p && p.bucket.equals(bucket) && Arrays.equals(p.frameIndices, frameIndices);
    }

    @Override
    public int hashCode() {
        return 31 * bucket.hashCode() + Arrays.hashCode(frameIndices);
    }

    @Override
    public String toString() {
        return "FramePlan[" + bucket + ", " + Arrays.toString(frameIndices) + "]";
    }
}
