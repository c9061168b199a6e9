package io.github.cogvideox4j.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** The reference rules on the worked examples of docs/data-buckets.md §1 and the golden README. */
class ReferenceRuleExamplesTest {
    static final List<Integer> SIZES = List.of(256, 320, 384, 480, 512, 576, 720, 768, 960, 1024, 1280, 1536);

    static List<Bucket> finetrainersDefaultBuckets() {
        List<Bucket> out = new ArrayList<>();
        for (int h : SIZES) {
            for (int w : SIZES) {
                out.add(new Bucket(49, h, w));
            }
        }
        return out;
    }

    @Test
    void finetrainersSendsA480x720ClipTo1024x1536() {
        BucketAssignment a = BucketRule.finetrainers(finetrainersDefaultBuckets()).assign(49, 480, 720);
        assertThat(a.bucket()).isEqualTo(new Bucket(49, 1024, 1536));
        assertThat(a.frameIndices()).containsExactly(IntStream.range(0, 49).toArray());
    }

    @Test
    void finetrainersPicksTheLargestFrameBucketThatFitsThenTheNearestAspect() {
        BucketRule rule = BucketRule.finetrainers(List.of(new Bucket(17, 480, 720), new Bucket(33, 480, 480),
                new Bucket(33, 720, 1280), new Bucket(81, 480, 720)));
        BucketAssignment a = rule.assign(60, 720, 1280);
        assertThat(a.bucket()).isEqualTo(new Bucket(33, 720, 1280));
        assertThat(a.frameCount()).isEqualTo(33);
    }

    @Test
    void finetrainersKeepsAClipShorterThanEveryBucketWhole() {
        BucketAssignment a = BucketRule.finetrainers(finetrainersDefaultBuckets()).assign(48, 480, 720);
        assertThat(a.bucket().frames()).isEqualTo(49);
        assertThat(a.frameIndices()).containsExactly(IntStream.range(0, 48).toArray());
    }

    @Test
    void finetrainersUsesExactIndicesWhereTorchLinspaceRoundsDown() {
        BucketAssignment a = BucketRule.finetrainers(List.of(new Bucket(16, 480, 720))).assign(21, 480, 720);
        assertThat(a.frameIndex(9)).isEqualTo(12); // torch 1.13 default kernel gives 11
        assertThat(a.frameIndex(15)).isEqualTo(20);
    }

    @Test
    void factoryTakesTheSmallerFrameBucketOnATie() {
        BucketRule rule = BucketRule.cogvideoxFactory(List.of(16, 24, 32, 48, 64, 80), SIZES, SIZES, 49);
        BucketAssignment a = rule.assign(20, 480, 720);
        assertThat(a.bucket()).isEqualTo(new Bucket(16, 480, 720));
        assertThat(a.frameIndices()).containsExactly(IntStream.range(0, 16).toArray());
    }

    @Test
    void factoryStridesByIntegerDivision() {
        BucketRule rule = BucketRule.cogvideoxFactory(List.of(16, 24, 32, 48, 64, 80), SIZES, SIZES, 81);
        BucketAssignment a = rule.assign(100, 490, 710);
        assertThat(a.bucket()).isEqualTo(new Bucket(80, 480, 720));
        assertThat(a.frameIndices()).containsExactly(IntStream.range(0, 80).toArray()); // 100 // 80 = 1
    }

    @Test
    void factoryBreaksSizeTiesTowardTheSmallerHeight() {
        BucketRule rule = BucketRule.cogvideoxFactory(List.of(49), List.of(480, 512), List.of(720), 49);
        assertThat(rule.assign(49, 496, 720).bucket()).isEqualTo(new Bucket(49, 480, 720));
    }

    @Test
    void factoryRejectsAFrameBucketLongerThanTheClip() {
        BucketRule rule = BucketRule.cogvideoxFactory(List.of(16, 24, 32, 48, 64, 80), SIZES, SIZES, 49);
        assertThatThrownBy(() -> rule.assign(47, 480, 720)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("frame bucket 48").hasMessageContaining("range() arg 3 must not be zero");
    }

    @Test
    void cogvideoTakesTheSizeFromAnyBucketShortEnough() {
        BucketRule rule = BucketRule.cogvideo(List.of(new Bucket(49, 480, 720), new Bucket(33, 720, 480)));
        BucketAssignment a = rule.assign(60, 720, 480);
        assertThat(a.bucket()).isEqualTo(new Bucket(49, 720, 480));
        assertThat(a.frameIndices()).containsExactly(IntStream.range(0, 49).toArray()); // 60 // 49 = 1
    }

    @Test
    void cogvideoRejectsAClipShorterThanEveryBucket() {
        BucketRule rule = BucketRule.cogvideo(List.of(new Bucket(49, 480, 720), new Bucket(33, 720, 480)));
        assertThatThrownBy(() -> rule.assign(32, 480, 720)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("32 frames").hasMessageContaining("[33, 49]");
    }

    @Test
    void community15TokenBudgetMapsSizesToFrames() {
        Community15Rule rule = BucketRule.community15(Community15Config.finetuneScript());
        assertThat(rule.sampleSizes()).containsExactly(512, 640, 768, 896, 1024, 1152, 1280);
        assertThat(IntStream.of(rule.sampleSizes()).map(rule::tokenBudgetFrames).toArray())
                .containsExactly(49, 29, 21, 17, 13, 9, 5);
    }

    @Test
    void community15TrimsAnOddLatentCount49To45() {
        BucketAssignment a = BucketRule.community15(Community15Config.scripts768()).assign(147, 480, 720);
        assertThat(a.bucket()).isEqualTo(new Bucket(45, 624, 912));
        assertThat(a.frameIndices()).containsExactly(IntStream.range(0, 45).map(i -> 3 * i).toArray());
        assertThat(FrameRule.latentFrames(a.bucket().frames())).isEqualTo(12);
    }

    @Test
    void community15RoundsTheScaledAspectBucketDownToMultiplesOf16() {
        // 0.68 -> [416, 608] * 640/512 = [520, 760] -> [512, 752]; 16 sampled frames -> 13 (4 latents, even)
        BucketAssignment a = BucketRule.community15(Community15Config.finetuneScript()).assign(49, 480, 720, 1, 0);
        assertThat(a.bucket()).isEqualTo(new Bucket(13, 512, 752));
        assertThat(a.frameIndices()).containsExactly(0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 33, 36);
    }

    @Test
    void community15RejectsAVideoThatYieldsNoFrames() {
        Community15Rule rule = BucketRule.community15(Community15Config.finetuneScript());
        assertThatThrownBy(() -> rule.assign(2, 480, 720)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("No Frames in video");
    }

    @Test
    void community15RejectsAClipStartOutsideTheValidRange() {
        Community15Rule rule = BucketRule.community15(Community15Config.finetuneScript());
        assertThatThrownBy(() -> rule.assign(49, 480, 720, 0, 4)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("clipStartOffset 4 out of [0, 3]");
    }

    @Test
    void community15ShiftsTheFramesByTheClipStart() {
        Community15Rule rule = BucketRule.community15(Community15Config.finetuneScript());
        assertThat(rule.assign(49, 480, 720, 0, 3).frameIndex(0)).isEqualTo(3);
    }
}
