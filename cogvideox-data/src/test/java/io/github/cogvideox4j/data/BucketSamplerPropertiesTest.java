package io.github.cogvideox4j.data;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/** The sampler's laws, property-tested. */
class BucketSamplerPropertiesTest {
    private static final Bucket[] BUCKETS = {
        new Bucket(49, 480, 720), new Bucket(49, 720, 480), new Bucket(33, 480, 720), new Bucket(1, 480, 720)};

    /** A generated dataset: samples with distinct, shuffled, possibly sparse indices. */
    record Dataset(List<BucketedSample> samples) {
    }

    @Provide
    Arbitrary<Dataset> datasets() {
        return Combinators.combine(Arbitraries.integers().between(1, 400), Arbitraries.longs(),
                Arbitraries.integers().between(1, 4)).as((n, seed, kinds) -> {
                    Random r = new Random(seed);
                    List<BucketedSample> out = new ArrayList<>();
                    for (int i = 0; i < n; i++) {
                        Bucket b = BUCKETS[r.nextInt(kinds)];
                        out.add(new BucketedSample(3 * i + r.nextInt(3), b, b.frames() == 1 || r.nextInt(8) == 0));
                    }
                    Collections.shuffle(out, r);
                    return new Dataset(out);
                });
    }

    @Provide
    Arbitrary<SamplerConfig> configs() {
        return Combinators.combine(Arbitraries.integers().between(1, 9), Arbitraries.longs(),
                Arbitraries.of(DropLastPolicy.class)).as(SamplerConfig::new);
    }

    @Property(tries = 150)
    void everySampleIsSeenExactlyOncePerEpochOrDropped(@ForAll("datasets") Dataset d,
            @ForAll("configs") SamplerConfig c, @ForAll @IntRange(max = 50) int epoch) {
        BucketSampler s = new BucketSampler(d.samples(), c);
        List<Integer> seen = new ArrayList<>();
        s.epoch(epoch).forEach(b -> Arrays.stream(b.sampleIndices()).forEach(seen::add));
        Arrays.stream(s.droppedSamples(epoch)).forEach(seen::add);
        List<Integer> expected = d.samples().stream().map(BucketedSample::sampleIndex).sorted().toList();
        Collections.sort(seen);
        assertThat(seen).isEqualTo(expected);
    }

    @Property(tries = 150)
    void aBatchNeverMixesBucketsOrImagesWithVideos(@ForAll("datasets") Dataset d, @ForAll("configs") SamplerConfig c,
            @ForAll @IntRange(max = 50) int epoch) {
        BucketedSample[] byIndex = new BucketedSample[3 * d.samples().size() + 3];
        d.samples().forEach(s -> byIndex[s.sampleIndex()] = s);
        for (BatchPlan b : new BucketSampler(d.samples(), c).epoch(epoch)) {
            for (int i : b.sampleIndices()) {
                assertThat(byIndex[i].bucket()).isEqualTo(b.bucket());
                assertThat(byIndex[i].image()).isEqualTo(b.image());
            }
            assertThat(b.size()).isBetween(1, c.batchSize());
        }
    }

    @Property(tries = 100)
    void dropPartialGivesOnlyFullBatches(@ForAll("datasets") Dataset d, @ForAll("configs") SamplerConfig c) {
        BucketSampler s = new BucketSampler(d.samples(), c.withDropLast(DropLastPolicy.DROP_PARTIAL));
        assertThat(s.epoch(0)).allSatisfy(b -> assertThat(b.size()).isEqualTo(c.batchSize()));
    }

    @Property(tries = 100)
    void keepPartialDropsNothing(@ForAll("datasets") Dataset d, @ForAll("configs") SamplerConfig c) {
        BucketSampler s = new BucketSampler(d.samples(), c.withDropLast(DropLastPolicy.KEEP_PARTIAL));
        assertThat(s.droppedSamples(3)).isEmpty();
        assertThat(s.epoch(3).stream().mapToInt(BatchPlan::size).sum()).isEqualTo(d.samples().size());
    }

    @Property(tries = 100)
    void batchesOfAnEpochAreDisjoint(@ForAll("datasets") Dataset d, @ForAll("configs") SamplerConfig c,
            @ForAll @IntRange(max = 50) int epoch) {
        BucketSampler s = new BucketSampler(d.samples(), c);
        List<BatchPlan> batches = s.epoch(epoch);
        assertThat(batches).hasSize(s.stepsPerEpoch());
        Set<Integer> union = new HashSet<>();
        int total = 0;
        for (BatchPlan b : batches) {
            total += b.size();
            Arrays.stream(b.sampleIndices()).forEach(union::add);
        }
        assertThat(union).hasSize(total);
    }

    @Property(tries = 100)
    void resumingGivesTheIdenticalRestOfTheEpoch(@ForAll("datasets") Dataset d, @ForAll("configs") SamplerConfig c,
            @ForAll @IntRange(max = 50) int epoch, @ForAll @IntRange(max = 1000) int at) {
        BucketSampler s = new BucketSampler(d.samples(), c);
        List<BatchPlan> full = s.epoch(epoch);
        int position = full.isEmpty() ? 0 : at % (full.size() + 1);
        BucketSampler restarted = new BucketSampler(d.samples(), c);
        assertThat(restarted.resume(epoch, position)).isEqualTo(full.subList(position, full.size()));
    }

    @Property(tries = 100)
    void theInputOrderDoesNotMatter(@ForAll("datasets") Dataset d, @ForAll("configs") SamplerConfig c,
            @ForAll long shuffleSeed) {
        List<BucketedSample> shuffled = new ArrayList<>(d.samples());
        Collections.shuffle(shuffled, new Random(shuffleSeed));
        assertThat(new BucketSampler(shuffled, c).epoch(2)).isEqualTo(new BucketSampler(d.samples(), c).epoch(2));
    }

    @Property(tries = 100)
    void theReportMatchesThePlan(@ForAll("datasets") Dataset d, @ForAll("configs") SamplerConfig c,
            @ForAll @IntRange(max = 50) int epoch) {
        BucketSampler s = new BucketSampler(d.samples(), c);
        BucketReport report = s.report();
        assertThat(report.droppedPerEpoch()).isEqualTo(s.droppedSamples(epoch).length);
        assertThat(report.stepsPerEpoch()).isEqualTo(s.epoch(epoch).size());
        assertThat(report.rows().stream().mapToInt(BucketReport.Row::samples).sum()).isEqualTo(d.samples().size());
        assertThat(report.samples()).isEqualTo(d.samples().size());
    }

    @Property(tries = 50)
    void droppedSamplesAreDistinctAndFromTheDataset(@ForAll("datasets") Dataset d, @ForAll("configs") SamplerConfig c) {
        BitSet all = new BitSet();
        d.samples().forEach(s -> all.set(s.sampleIndex()));
        int[] dropped = new BucketSampler(d.samples(), c).droppedSamples(1);
        assertThat(Arrays.stream(dropped).distinct().count()).isEqualTo(dropped.length);
        assertThat(Arrays.stream(dropped).allMatch(all::get)).isTrue();
    }

    @Property(tries = 100)
    void theArrayFormPlansLikeTheListForm(@ForAll("datasets") Dataset d, @ForAll("configs") SamplerConfig c) {
        int n = d.samples().size();
        Bucket[] buckets = new Bucket[n];
        boolean[] images = new boolean[n];
        List<BucketedSample> renumbered = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            BucketedSample s = d.samples().get(i);
            buckets[i] = new Bucket(s.bucket().frames(), s.bucket().height(), s.bucket().width());
            images[i] = s.image();
            renumbered.add(new BucketedSample(i, s.bucket(), s.image()));
        }
        assertThat(BucketSampler.of(buckets, images, c).epoch(4)).isEqualTo(new BucketSampler(renumbered, c).epoch(4));
    }
}
