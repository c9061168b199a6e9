package io.github.cogvideox4j.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The sampler on fixed examples. */
class BucketSamplerTest {
    private static final Bucket A = new Bucket(49, 480, 720);
    private static final Bucket B = new Bucket(49, 720, 480);

    private static List<BucketedSample> twoBuckets(int perBucket) {
        List<BucketedSample> out = new ArrayList<>();
        for (int i = 0; i < perBucket; i++) {
            out.add(BucketedSample.video(i, A));
            out.add(BucketedSample.video(perBucket + i, B));
        }
        return out;
    }

    @Test
    void sameSeedGivesTheSameEpoch() {
        assertThat(new BucketSampler(twoBuckets(50), SamplerConfig.of(4, 7)).epoch(3))
                .isEqualTo(new BucketSampler(twoBuckets(50), SamplerConfig.of(4, 7)).epoch(3));
    }

    @Test
    void differentEpochsAreShuffledDifferently() {
        BucketSampler s = new BucketSampler(twoBuckets(50), SamplerConfig.of(4, 7));
        assertThat(s.epoch(0)).extracting(b -> b.sampleIndex(0))
                .isNotEqualTo(s.epoch(1).stream().map(b -> b.sampleIndex(0)).toList());
    }

    @Test
    void bucketsInterleaveAcrossTheEpoch() {
        List<BatchPlan> epoch = new BucketSampler(twoBuckets(200), SamplerConfig.of(4, 1)).epoch(0);
        int switches = 0;
        for (int i = 1; i < epoch.size(); i++) {
            switches += epoch.get(i).bucket().equals(epoch.get(i - 1).bucket()) ? 0 : 1;
        }
        assertThat(switches).isGreaterThan(epoch.size() / 4);
    }

    @Test
    void imagesAndVideosOfOneBucketGetSeparateBatches() {
        Bucket one = new Bucket(1, 480, 720);
        List<BucketedSample> samples = List.of(BucketedSample.image(0, one), BucketedSample.video(1, one),
                BucketedSample.image(2, one), BucketedSample.video(3, one));
        List<BatchPlan> epoch = new BucketSampler(samples, SamplerConfig.of(2, 0)).epoch(0);
        assertThat(epoch).hasSize(2).allSatisfy(b -> assertThat(b.sampleIndex(0) % 2).isEqualTo(b.sampleIndex(1) % 2));
    }

    @Test
    void rejectsADuplicateSampleIndex() {
        assertThatThrownBy(() -> new BucketSampler(List.of(BucketedSample.video(3, A), BucketedSample.video(3, B)),
                SamplerConfig.of(1, 0))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("sample index 3 appears twice");
    }

    @Test
    void rejectsAResumePositionPastTheEpoch() {
        BucketSampler s = new BucketSampler(twoBuckets(10), SamplerConfig.of(4, 0));
        assertThatThrownBy(() -> s.resume(0, s.stepsPerEpoch() + 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("position 5 out of [0, 4]");
    }

    @Test
    void keepPartialPlansEachBucketsRemainderAsOneSmallerBatch() {
        // 10 + 10 samples, batch 4, keep partial: 3 + 3 batches (sizes 4, 4, 2 each), nothing dropped
        BucketSampler s = new BucketSampler(twoBuckets(10), new SamplerConfig(4, 0, DropLastPolicy.KEEP_PARTIAL));
        assertThat(s.stepsPerEpoch()).isEqualTo(6);
        assertThat(s.droppedSamples(0)).isEmpty();
        assertThat(s.epoch(0)).extracting(BatchPlan::size).containsExactlyInAnyOrder(4, 4, 2, 4, 4, 2);
    }

    @Test
    void theSequenceDependsOnlyOnTheSeedAndTheBatchSize() {
        // what a data-parallel run relies on: W ranks sharing a global batch of 4 plan exactly what one process does
        List<BucketedSample> reversed = new ArrayList<>(twoBuckets(30));
        java.util.Collections.reverse(reversed);
        assertThat(new BucketSampler(twoBuckets(30), SamplerConfig.of(4, 9)).epoch(2))
                .isEqualTo(new BucketSampler(reversed, SamplerConfig.of(4, 9)).epoch(2));
    }

    @Test
    void reportShowsCountsPerBucket() {
        List<BucketedSample> samples = new ArrayList<>(twoBuckets(9));
        samples.add(BucketedSample.image(100, new Bucket(1, 480, 720)));
        BucketReport report = new BucketSampler(samples, SamplerConfig.of(4, 0)).report();
        assertThat(report.rows()).extracting(BucketReport.Row::samples).containsExactly(9, 9, 1);
        assertThat(report.droppedPerEpoch()).isEqualTo(3);
        assertThat(report.stepsPerEpoch()).isEqualTo(4);
        assertThat(report.format()).contains("video  49x480x720", "image  1x480x720", "4 steps per epoch",
                "dropped per epoch: 3 samples");
    }
}
