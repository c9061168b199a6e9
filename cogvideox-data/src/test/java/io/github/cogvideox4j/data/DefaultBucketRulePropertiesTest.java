package io.github.cogvideox4j.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/** Our default rule's guarantees, property-tested against a brute-force search. */
class DefaultBucketRulePropertiesTest {
    private static final int[] FRAMES = {1, 17, 33, 49, 81};
    private static final int[] SIDES = {256, 320, 480, 512, 720, 768, 1024, 1360};

    @Provide
    Arbitrary<List<Bucket>> bucketSets() {
        return Arbitraries.longs().map(seed -> {
            Random r = new Random(seed);
            List<Bucket> out = new ArrayList<>();
            int n = 1 + r.nextInt(30);
            for (int i = 0; i < n; i++) {
                out.add(new Bucket(FRAMES[r.nextInt(FRAMES.length)], SIDES[r.nextInt(SIDES.length)],
                        SIDES[r.nextInt(SIDES.length)]));
            }
            return out;
        });
    }

    private static boolean fits(Bucket b, int n, int h, int w) {
        return b.frames() <= n && (b.frames() > 1 || n == 1) && b.height() <= h && b.width() <= w;
    }

    /** Aspect mismatch as a double, for the brute force (exact ties are avoided by comparing with a margin). */
    private static double mismatch(Bucket b, int h, int w) {
        double x = (double) b.width() * h;
        double y = (double) w * b.height();
        return Math.max(x, y) / Math.min(x, y);
    }

    @Property(tries = 300)
    void picksAFittingBucketWithTheMostFramesAndTheNearestAspect(@ForAll("bucketSets") List<Bucket> buckets,
            @ForAll @IntRange(min = 1, max = 120) int n, @ForAll @IntRange(min = 200, max = 2000) int h,
            @ForAll @IntRange(min = 200, max = 2000) int w) {
        BucketRule rule = BucketRule.defaults(buckets);
        List<Bucket> fitting = buckets.stream().filter(b -> fits(b, n, h, w)).toList();
        if (fitting.isEmpty()) {
            assertThatThrownBy(() -> rule.assign(n, h, w)).isInstanceOf(IllegalArgumentException.class);
            return;
        }
        Bucket chosen = rule.assign(n, h, w).bucket();
        assertThat(fitting).contains(chosen);
        int maxFrames = fitting.stream().mapToInt(Bucket::frames).max().orElseThrow();
        assertThat(chosen.frames()).isEqualTo(maxFrames);
        double best = fitting.stream().filter(b -> b.frames() == maxFrames).mapToDouble(b -> mismatch(b, h, w)).min()
                .orElseThrow();
        assertThat(mismatch(chosen, h, w)).isLessThanOrEqualTo(best * (1 + 1e-12));
    }

    @Property(tries = 200)
    void theBucketListOrderDoesNotMatter(@ForAll("bucketSets") List<Bucket> buckets, @ForAll long seed,
            @ForAll @IntRange(min = 81, max = 120) int n, @ForAll @IntRange(min = 1400, max = 2000) int h,
            @ForAll @IntRange(min = 1400, max = 2000) int w) {
        List<Bucket> shuffled = new ArrayList<>(buckets);
        Collections.shuffle(shuffled, new Random(seed));
        assertThat(outcome(BucketRule.defaults(shuffled), n, h, w)).isEqualTo(outcome(BucketRule.defaults(buckets), n, h, w));
    }

    private static Object outcome(BucketRule rule, int n, int h, int w) {
        try {
            return rule.assign(n, h, w);
        } catch (IllegalArgumentException e) {
            return "rejected";
        }
    }

    @Property(tries = 300)
    void takesBucketFramesDistinctSourceFramesAtAUniformStride(@ForAll("bucketSets") List<Bucket> buckets,
            @ForAll @IntRange(min = 81, max = 1000) int n) {
        if (buckets.stream().noneMatch(b -> fits(b, n, 2000, 2000))) {
            assertThatThrownBy(() -> BucketRule.defaults(buckets).assign(n, 2000, 2000))
                    .isInstanceOf(IllegalArgumentException.class);
            return;
        }
        BucketAssignment a = BucketRule.defaults(buckets).assign(n, 2000, 2000);
        int[] idx = a.frameIndices();
        assertThat(idx).hasSize(a.bucket().frames());
        int step = n / a.bucket().frames();
        for (int i = 0; i < idx.length; i++) {
            assertThat(idx[i]).isEqualTo(i * step).isLessThan(n);
        }
    }

    @Property(tries = 300)
    void evenlySpacedIndicesRunFromFirstToLastAndNeverRepeat(@ForAll @IntRange(min = 0, max = 50) int first,
            @ForAll @IntRange(min = 1, max = 500) int length, @ForAll @IntRange(min = 1, max = 500) int count) {
        int last = first + length - 1;
        int kept = Math.min(count, length);
        int[] idx = BucketAssignment.evenlySpaced(new Bucket(kept, 16, 16), first, last, kept).frameIndices();
        assertThat(idx[0]).isEqualTo(first);
        if (kept > 1) {
            assertThat(idx[kept - 1]).isEqualTo(last);
        }
        for (int i = 1; i < kept; i++) {
            assertThat(idx[i]).isGreaterThan(idx[i - 1]);
            assertThat(idx[i]).isEqualTo(first + (int) ((long) i * (last - first) / (kept - 1)));
        }
    }

    @Property(tries = 40)
    void aRuleThatHasSeenOtherClipsAnswersLikeAFreshOne(@ForAll("bucketSets") List<Bucket> buckets, @ForAll long seed) {
        BucketRule shared = BucketRule.defaults(buckets);
        Random r = new Random(seed);
        for (int i = 0; i < 60; i++) {
            int n = 1 + r.nextInt(120);
            int h = 200 + r.nextInt(1800);
            int w = 200 + r.nextInt(1800);
            BucketRule fresh = BucketRule.defaults(buckets);
            for (int repeat = 0; repeat < 2; repeat++) {
                Bucket expected;
                try {
                    expected = fresh.bucketOf(n, h, w);
                } catch (IllegalArgumentException e) {
                    assertThatThrownBy(() -> shared.bucketOf(n, h, w)).isInstanceOf(IllegalArgumentException.class);
                    continue;
                }
                assertThat(shared.bucketOf(n, h, w)).isEqualTo(expected);
                assertThat(shared.assign(n, h, w).bucket()).isEqualTo(expected);
            }
        }
    }
}
