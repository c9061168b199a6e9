package io.github.cogvideox4j.data;

import java.util.Arrays;
import java.util.List;

/**
 * finetrainers {@code find_nearest_video_resolution} + {@code resize_to_nearest_bucket_video} (a-r-r-o-w/finetrainers
 * f476c37, {@code finetrainers/functional/video.py}); see {@link BucketRule#finetrainers(List)}.
 *
 * <p>Frame indices use the exact rule {@code floor(i*(n-1)/(T-1))} in place of {@code torch.linspace(...).long()},
 * whose float32 values depend on the machine's vector kernel (see the golden README).
 *
 * <p>Thread safety: immutable.
 */
final class FinetrainersRule implements BucketRule {
    private final Bucket[] buckets;

    FinetrainersRule(List<Bucket> buckets) {
        this.buckets = RuleChecks.bucketArray(buckets);
    }

    @Override
    public BucketAssignment assign(int numFrames, int height, int width) {
        RuleChecks.checkClip(numFrames, height, width);
        int target = -1;
        for (Bucket b : buckets) {
            if (b.frames() <= numFrames && b.frames() > target) {
                target = b.frames();
            }
        }
        if (target < 0) {
            int bestDistance = Integer.MAX_VALUE;
            for (Bucket b : buckets) {
                int d = Math.abs(b.frames() - numFrames);
                if (d < bestDistance) {
                    bestDistance = d;
                    target = b.frames();
                }
            }
        }
        double aspect = (double) width / height;
        Bucket best = null;
        double bestDiff = Double.POSITIVE_INFINITY;
        for (Bucket b : buckets) {
            if (b.frames() != target) {
                continue;
            }
            double diff = Math.abs((double) b.width() / b.height() - aspect);
            if (best == null || diff < bestDiff
                    || diff == bestDiff && (b.height() > best.height()
                            || b.height() == best.height() && b.width() > best.width())) {
                best = b;
                bestDiff = diff;
            }
        }
        if (numFrames > target) {
            return BucketAssignment.evenlySpaced(best, 0, numFrames - 1, target);
        }
        return BucketAssignment.allFrames(best, numFrames);
    }

    @Override
    public String toString() {
        return "BucketRule.finetrainers" + Arrays.toString(buckets);
    }
}
