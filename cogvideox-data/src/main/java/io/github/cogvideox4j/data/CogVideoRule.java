package io.github.cogvideox4j.data;

import java.util.Arrays;
import java.util.List;

/**
 * CogVideo {@code finetune/datasets/utils.py preprocess_video_with_buckets} (zai-org/CogVideo 7a1af71); see
 * {@link BucketRule#cogvideo(List)}.
 *
 * <p>Thread safety: immutable.
 */
final class CogVideoRule implements BucketRule {
    private final Bucket[] buckets;

    CogVideoRule(List<Bucket> buckets) {
        this.buckets = RuleChecks.bucketArray(buckets);
    }

    @Override
    public BucketAssignment assign(int numFrames, int height, int width) {
        RuleChecks.checkClip(numFrames, height, width);
        int frameBucket = -1;
        Bucket nearest = null;
        long bestDistance = Long.MAX_VALUE;
        for (Bucket b : buckets) {
            if (b.frames() > numFrames) {
                continue;
            }
            frameBucket = Math.max(frameBucket, b.frames());
            long d = (long) Math.abs(b.height() - height) + Math.abs(b.width() - width);
            if (d < bestDistance) {
                bestDistance = d;
                nearest = b;
            }
        }
        if (nearest == null) {
            throw new IllegalArgumentException(String.format(
                    "CogVideo bucket rule: the clip has %d frames, fewer than every frame bucket %s (the reference raises"
                            + " 'video frame count ... is less than all frame buckets')", numFrames, frameCounts()));
        }
        Bucket bucket = new Bucket(frameBucket, nearest.height(), nearest.width());
        return BucketAssignment.strided(bucket, 0, numFrames / frameBucket, frameBucket);
    }

    private String frameCounts() {
        return Arrays.toString(Arrays.stream(buckets).mapToInt(Bucket::frames).distinct().sorted().toArray());
    }

    @Override
    public String toString() {
        return "BucketRule.cogvideo" + Arrays.toString(buckets);
    }
}
