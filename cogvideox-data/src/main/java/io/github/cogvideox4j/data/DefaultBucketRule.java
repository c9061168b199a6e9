package io.github.cogvideox4j.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Our default rule ({@link BucketRule#defaults(List)}). For a clip of {@code n} frames at {@code h x w}:
 * <ol>
 *   <li>a bucket <em>fits</em> when {@code frames <= n}, {@code height <= h} and {@code width <= w}: the clip is never
 *       upscaled (finetrainers sends a 480x720 clip to 1024x1536 because only the aspect counts) and never needs more
 *       frames than it has (cogvideox-factory fails on such clips; finetrainers keeps them short);</li>
 *   <li>the largest frame count among fitting buckets (temporal coverage first, as finetrainers and CogVideo);</li>
 *   <li>among the fitting buckets of that frame count, the nearest aspect ratio, measured symmetrically as
 *       {@code max(r_b / r, r / r_b)} with {@code r = w/h} (a portrait clip is treated like its landscape mirror;
 *       finetrainers' {@code |r_b - r|} under-weights portrait differences), compared exactly in integer
 *       arithmetic;</li>
 *   <li>a bucket of one frame takes only one-frame clips (images): a video is never reduced to one frame;</li>
 *   <li>ties: the larger bucket area (least downscaling), then the larger height, then the earlier bucket in the list;
 *       duplicate buckets are ignored;</li>
 *   <li>frames: a uniform integer stride {@code n / F} from frame 0 (constant frame rate; {@code linspace} mixes two
 *       step lengths, e.g. 50 -> 49 repeats no frame but skips one).</li>
 * </ol>
 * No fitting bucket: rejected with {@link IllegalArgumentException}. With a {@link FrameRule} the buckets are first
 * checked and, for the 1.5 trim policy, replaced by their trimmed form (49 -> 45) so that the stride spans the clip.
 *
 * <p>Speed: the choice depends only on (first frame group {@code <= n}, h, w); results are memoised in a small
 * lock-free direct-mapped table of 65,536 entries (512 KiB), so a dataset with repeated shapes costs a hash probe per clip. A miss scans the
 * groups (doubles first, exact 128-bit integer comparison when two ratios are within 1e-12).
 *
 * <p>Thread safety: thread-safe; immutable apart from the memo, whose entries are single atomic longs checked against
 * their key.
 */
final class DefaultBucketRule implements BucketRule {
    private static final int CACHE_BITS = 16;
    private static final int CACHE_MASK = (1 << CACHE_BITS) - 1;
    private static final int VALUE_BITS = 20;
    private static final long VALUE_MASK = (1L << VALUE_BITS) - 1;
    private static final int REJECTED = (int) VALUE_MASK;

    /** Distinct frame counts, descending. */
    private final int[] frameCounts;
    /** All buckets grouped by frame count (descending), each group in tie-break order (area desc, height desc, list). */
    private final Bucket[] ordered;
    private final int[] orderedHeight;
    private final int[] orderedWidth;
    /** Group g is ordered[groupStart[g] .. groupStart[g+1]). */
    private final int[] groupStart;
    private final List<Bucket> buckets;
    /** Memo: entry = key (41 bits) << VALUE_BITS | (bucket position + 1 or REJECTED); 0 = empty. */
    private final AtomicLongArray cache = new AtomicLongArray(1 << CACHE_BITS);

    DefaultBucketRule(List<Bucket> input, FrameRule frameRule) {
        Bucket[] raw = RuleChecks.bucketArray(input);
        LinkedHashSet<Bucket> unique = new LinkedHashSet<>();
        for (Bucket b : raw) {
            unique.add(frameRule == null ? b : frameRule.apply(b));
        }
        this.buckets = List.copyOf(unique);
        List<Bucket> sorted = new ArrayList<>(unique);
        // stable sort: list order survives as the last tie-break
        sorted.sort(Comparator.comparingInt(Bucket::frames).reversed()
                .thenComparing(Comparator.comparingLong((Bucket b) -> (long) b.height() * b.width()).reversed())
                .thenComparing(Comparator.comparingInt(Bucket::height).reversed()));
        this.ordered = sorted.toArray(new Bucket[0]);
        this.orderedHeight = sorted.stream().mapToInt(Bucket::height).toArray();
        this.orderedWidth = sorted.stream().mapToInt(Bucket::width).toArray();
        this.frameCounts = sorted.stream().mapToInt(Bucket::frames).distinct().toArray();
        this.groupStart = new int[frameCounts.length + 1];
        int g = 0;
        for (int i = 0; i < ordered.length; i++) {
            while (ordered[i].frames() != frameCounts[g]) {
                groupStart[++g] = i;
            }
        }
        groupStart[frameCounts.length] = ordered.length;
    }

    @Override
    public BucketAssignment assign(int numFrames, int height, int width) {
        Bucket best = bucketOf(numFrames, height, width);
        return BucketAssignment.strided(best, 0, numFrames / best.frames(), best.frames());
    }

    @Override
    public Bucket bucketOf(int numFrames, int height, int width) {
        RuleChecks.checkClip(numFrames, height, width);
        int first = firstGroup(numFrames);
        // a one-frame bucket takes one-frame clips (images) only: a video is never cut to a single frame
        int end = numFrames > 1 && frameCounts[frameCounts.length - 1] == 1 ? frameCounts.length - 1
                : frameCounts.length;
        int pos;
        if (height < 65536 && width < 65536 && first < 256 && ordered.length < REJECTED) {
            long key = (numFrames > 1 ? 1L << 40 : 0L) | (long) first << 32 | (long) height << 16 | width;
            int slot = (int) (SplitMix64.mix64(key) & CACHE_MASK);
            long entry = cache.get(slot);
            if (entry != 0 && entry >>> VALUE_BITS == key) {
                pos = (int) (entry & VALUE_MASK) - 1;
            } else {
                pos = search(first, end, height, width);
                cache.lazySet(slot, key << VALUE_BITS | (pos < 0 ? REJECTED : pos + 1));
            }
            if (pos == REJECTED - 1) {
                pos = -1;
            }
        } else {
            pos = search(first, end, height, width);
        }
        if (pos < 0) {
            throw new IllegalArgumentException(String.format(
                    "default bucket rule: no bucket fits a %dx%dx%d clip (frames x height x width) without upscaling"
                            + " or taking more frames than it has; buckets: %s", numFrames, height, width, buckets));
        }
        return ordered[pos];
    }

    /** First group (frame counts descending) whose frame count is {@code <= n}; {@code frameCounts.length} if none. */
    private int firstGroup(int n) {
        int lo = 0;
        int hi = frameCounts.length;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (frameCounts[mid] > n) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    /** Position in {@code ordered} of the chosen bucket, or -1. */
    private int search(int firstGroup, int endGroup, int height, int width) {
        for (int g = firstGroup; g < endGroup; g++) {
            int best = -1;
            long bestNum = 0;
            long bestDen = 1;
            double bestRatio = Double.POSITIVE_INFINITY;
            for (int i = groupStart[g]; i < groupStart[g + 1]; i++) {
                int bh = orderedHeight[i];
                int bw = orderedWidth[i];
                if (bh > height || bw > width) {
                    continue;
                }
                long x = (long) bw * height;
                long y = (long) width * bh;
                long num = Math.max(x, y);
                long den = Math.min(x, y);
                double ratio = (double) num / den;
                boolean better;
                if (best < 0) {
                    better = true;
                } else if (Math.abs(ratio - bestRatio) > 1e-12 * bestRatio) {
                    better = ratio < bestRatio;
                } else {
                    better = lessThan(num, den, bestNum, bestDen);
                }
                if (better) {
                    best = i;
                    bestNum = num;
                    bestDen = den;
                    bestRatio = ratio;
                }
            }
            if (best >= 0) {
                return best;
            }
        }
        return -1;
    }

    /** {@code n1/d1 < n2/d2} for positive values below 2^63, exactly (128-bit cross products). */
    static boolean lessThan(long n1, long d1, long n2, long d2) {
        long hiA = Math.multiplyHigh(n1, d2);
        long hiB = Math.multiplyHigh(n2, d1);
        if (hiA != hiB) {
            return hiA < hiB;
        }
        return Long.compareUnsigned(n1 * d2, n2 * d1) < 0;
    }

    /** @return the effective buckets (after the frame rule), duplicates removed, in list order */
    List<Bucket> buckets() {
        return buckets;
    }

    @Override
    public String toString() {
        return "BucketRule.defaults" + buckets + " (frame counts " + Arrays.toString(frameCounts) + ")";
    }
}
