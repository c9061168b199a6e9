package io.github.cogvideox4j.data;

import com.google.common.base.Preconditions;
import java.util.Arrays;
import java.util.List;

/**
 * cogvideox-factory {@code VideoDatasetWithResizing._preprocess_video} and {@code _find_nearest_resolution}
 * (a-r-r-o-w/cogvideox-factory 223add1, {@code training/cogvideox/dataset.py}); see
 * {@link BucketRule#cogvideoxFactory(List, List, List, int)}.
 *
 * <p>Thread safety: immutable.
 */
final class FactoryRule implements BucketRule {
    private final int[] frameBuckets;
    private final int[] heightBuckets;
    private final int[] widthBuckets;
    private final int maxNumFrames;

    FactoryRule(List<Integer> frameBuckets, List<Integer> heightBuckets, List<Integer> widthBuckets, int maxNumFrames) {
        this.frameBuckets = RuleChecks.positiveInts(frameBuckets, "frameBuckets");
        this.heightBuckets = RuleChecks.positiveInts(heightBuckets, "heightBuckets");
        this.widthBuckets = RuleChecks.positiveInts(widthBuckets, "widthBuckets");
        Preconditions.checkArgument(maxNumFrames > 0, "maxNumFrames must be positive, got %s", maxNumFrames);
        this.maxNumFrames = maxNumFrames;
    }

    @Override
    public BucketAssignment assign(int numFrames, int height, int width) {
        RuleChecks.checkClip(numFrames, height, width);
        int m = Math.min(numFrames, maxNumFrames);
        int frameBucket = frameBuckets[0];
        for (int f : frameBuckets) {
            if (Math.abs(f - m) < Math.abs(frameBucket - m)) {
                frameBucket = f;
            }
        }
        int step = numFrames / frameBucket;
        if (step == 0) {
            throw new IllegalArgumentException(String.format(
                    "cogvideox-factory rule: the nearest frame bucket %d (to min(%d frames, max_num_frames %d)) needs more"
                            + " frames than the clip has (%d); the reference fails here with"
                            + " 'range() arg 3 must not be zero'", frameBucket, numFrames, maxNumFrames, numFrames));
        }
        int bestH = 0;
        int bestW = 0;
        long bestDistance = Long.MAX_VALUE;
        for (int h : heightBuckets) {
            for (int w : widthBuckets) {
                long d = (long) Math.abs(h - height) + Math.abs(w - width);
                if (d < bestDistance) {
                    bestDistance = d;
                    bestH = h;
                    bestW = w;
                }
            }
        }
        return BucketAssignment.strided(new Bucket(frameBucket, bestH, bestW), 0, step, frameBucket);
    }

    @Override
    public String toString() {
        return "BucketRule.cogvideoxFactory[frames " + Arrays.toString(frameBuckets) + ", heights "
                + Arrays.toString(heightBuckets) + ", widths " + Arrays.toString(widthBuckets) + ", max_num_frames "
                + maxNumFrames + "]";
    }
}
