package io.github.cogvideox4j.data;

import com.google.common.base.Preconditions;
import java.util.Arrays;
import java.util.Objects;

/**
 * Where one clip goes: its {@link Bucket} and the source frames to take, in order.
 *
 * <p>Every rule of this package takes frames on an arithmetic pattern, so the indices are stored as a formula
 * ({@code index(i) = start + floor(i * span / divisor)}, exact integer arithmetic) and materialised on demand: an
 * assignment costs a few words whatever the clip length. {@link #frameIndices()} returns a fresh array.
 *
 * <p>The frame count kept ({@link #frameCount()}) is normally {@code bucket().frames()}; it is smaller when a rule keeps
 * a short clip whole instead of padding it (finetrainers keeps all {@code n < T} frames of a clip shorter than its
 * frame bucket {@code T}).
 *
 * <p>Thread safety: immutable.
 */
public final class BucketAssignment {
    private final Bucket bucket;
    private final int start;
    private final long span;
    private final long divisor;
    private final int count;

    private BucketAssignment(Bucket bucket, int start, long span, long divisor, int count) {
        this.bucket = Objects.requireNonNull(bucket, "bucket");
        Preconditions.checkArgument(count > 0, "an assignment keeps at least one frame, got %s", count);
        Preconditions.checkArgument(start >= 0 && span >= 0 && divisor > 0,
                "invalid frame pattern start=%s span=%s divisor=%s", start, span, divisor);
        this.start = start;
        this.span = span;
        this.divisor = divisor;
        this.count = count;
    }

    /**
     * Keeps frames {@code 0 .. numFrames-1}.
     *
     * @param bucket the bucket
     * @param numFrames frames of the clip, positive
     * @return the assignment
     */
    public static BucketAssignment allFrames(Bucket bucket, int numFrames) {
        return new BucketAssignment(bucket, 0, 1, 1, numFrames);
    }

    /**
     * Keeps {@code count} frames {@code start, start + step, ...} (Python {@code range(start, n, step)[:count]}).
     *
     * @param bucket the bucket
     * @param start first frame, non-negative
     * @param step stride, positive
     * @param count frames kept, positive
     * @return the assignment
     */
    public static BucketAssignment strided(Bucket bucket, int start, int step, int count) {
        Preconditions.checkArgument(step > 0, "frame step must be positive, got %s", step);
        return new BucketAssignment(bucket, start, step, 1, count);
    }

    /**
     * Keeps {@code count} frames spread evenly from {@code first} to {@code last} inclusive: frame
     * {@code first + floor(i * (last - first) / (count - 1))} (the exact integer form of {@code linspace(...)}
     * truncated; {@code count == 1} keeps {@code first}).
     *
     * @param bucket the bucket
     * @param first first frame, non-negative
     * @param last last frame, {@code >= first}
     * @param count frames kept, positive
     * @return the assignment
     */
    public static BucketAssignment evenlySpaced(Bucket bucket, int first, int last, int count) {
        Preconditions.checkArgument(last >= first, "last frame %s before first frame %s", last, first);
        if (count == 1) {
            return new BucketAssignment(bucket, first, 0, 1, 1);
        }
        return new BucketAssignment(bucket, first, (long) last - first, count - 1L, count);
    }

    /**
     * The same frame pattern cut to its first {@code keep} frames, in another bucket (used by the 1.5 odd-latent
     * trim, which drops trailing frames).
     *
     * @param newBucket the bucket of the result
     * @param keep frames kept, in {@code [1, frameCount()]}
     * @return the shortened assignment
     */
    public BucketAssignment firstFrames(Bucket newBucket, int keep) {
        Preconditions.checkArgument(keep >= 1 && keep <= count, "cannot keep %s of %s frames", keep, count);
        return new BucketAssignment(newBucket, start, span, divisor, keep);
    }

    /** @return the bucket the clip is resized (and cut) to */
    public Bucket bucket() {
        return bucket;
    }

    /** @return number of source frames taken */
    public int frameCount() {
        return count;
    }

    /**
     * @param i position in {@code [0, frameCount())}
     * @return the source frame at that position
     */
    public int frameIndex(int i) {
        Preconditions.checkElementIndex(i, count);
        return start + (int) (i * span / divisor);
    }

    /** @return a new array with the source frames to take, in order (all frames when none are dropped) */
    public int[] frameIndices() {
        int[] out = new int[count];
        for (int i = 0; i < count; i++) {
            out[i] = start + (int) (i * span / divisor);
        }
        return out;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BucketAssignment a && bucket.equals(a.bucket) && Arrays.equals(frameIndices(), a.frameIndices());
    }

    @Override
    public int hashCode() {
        return 31 * bucket.hashCode() + Arrays.hashCode(frameIndices());
    }

    @Override
    public String toString() {
        String frames = count == 1 ? "[" + start + "]"
                : "[" + frameIndex(0) + ", " + frameIndex(1) + (count > 2 ? ", ..., " + frameIndex(count - 1) : "") + "]";
        return "BucketAssignment[" + bucket + ", " + count + " frames " + frames + "]";
    }
}
