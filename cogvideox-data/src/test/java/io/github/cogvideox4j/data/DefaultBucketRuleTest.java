package io.github.cogvideox4j.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** Our default rule on worked examples. */
class DefaultBucketRuleTest {

    @Test
    void neverUpscalesPastTheSource() {
        BucketRule rule = BucketRule.defaults(ReferenceRuleExamplesTest.finetrainersDefaultBuckets());
        assertThat(rule.assign(49, 480, 720).bucket()).isEqualTo(new Bucket(49, 480, 720));
    }

    @Test
    void prefersTheLargestBucketOfTheNearestAspect() {
        BucketRule rule = BucketRule.defaults(ReferenceRuleExamplesTest.finetrainersDefaultBuckets());
        assertThat(rule.assign(49, 1080, 1920).bucket()).isEqualTo(new Bucket(49, 720, 1280));
    }

    @Test
    void neverTakesMoreFramesThanTheClipHas() {
        BucketRule rule = BucketRule.defaults(List.of(new Bucket(49, 480, 720), new Bucket(33, 480, 720)));
        BucketAssignment a = rule.assign(48, 480, 720);
        assertThat(a.bucket()).isEqualTo(new Bucket(33, 480, 720));
        assertThat(a.frameIndices()).containsExactly(IntStream.range(0, 33).toArray());
    }

    @Test
    void fallsBackToFewerFramesWhenNoLongerBucketFitsSpatially() {
        BucketRule rule = BucketRule.defaults(List.of(new Bucket(81, 768, 1360), new Bucket(49, 480, 720)));
        assertThat(rule.assign(100, 480, 720).bucket()).isEqualTo(new Bucket(49, 480, 720));
    }

    @Test
    void takesFramesAtAUniformStride() {
        BucketAssignment a = BucketRule.defaults(List.of(new Bucket(49, 480, 720))).assign(100, 480, 720);
        assertThat(a.frameIndices()).containsExactly(IntStream.range(0, 49).map(i -> 2 * i).toArray());
    }

    @Test
    void rejectsAClipThatNoBucketFits() {
        BucketRule rule = BucketRule.defaults(List.of(new Bucket(49, 480, 720)));
        assertThatThrownBy(() -> rule.assign(49, 256, 256)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("no bucket fits a 49x256x256 clip");
    }

    @Test
    void measuresAspectSymmetricallyForPortraitClips() {
        // source 3:4 (r = 0.75); candidates 1:2 (r = 0.5) and 1:1 (r = 1): |r_b - r| ties at 0.25 (finetrainers then
        // takes the larger height), the ratio measure says 1:1 is nearer (1.33 vs 1.5)
        BucketRule rule = BucketRule.defaults(List.of(new Bucket(1, 512, 256), new Bucket(1, 256, 256)));
        assertThat(rule.assign(1, 1024, 768).bucket()).isEqualTo(new Bucket(1, 256, 256));
        BucketRule finetrainers = BucketRule.finetrainers(List.of(new Bucket(1, 512, 256), new Bucket(1, 256, 256)));
        assertThat(finetrainers.assign(1, 1024, 768).bucket()).isEqualTo(new Bucket(1, 512, 256));
    }

    @Test
    void breaksAspectTiesByTheLargerArea() {
        BucketRule rule = BucketRule.defaults(List.of(new Bucket(1, 240, 360), new Bucket(1, 480, 720)));
        assertThat(rule.assign(1, 960, 1440).bucket()).isEqualTo(new Bucket(1, 480, 720));
    }

    @Test
    void breaksEqualAspectAndAreaTiesByTheLargerHeight() {
        // 2:1 landscape and 1:2 portrait are equally far (ratio 2) from a square source and have the same area
        BucketRule rule = BucketRule.defaults(List.of(new Bucket(1, 256, 512), new Bucket(1, 512, 256)));
        assertThat(rule.assign(1, 512, 512).bucket()).isEqualTo(new Bucket(1, 512, 256));
    }

    @Test
    void trimsOddLatentBucketsUpFrontForTheTrimPolicy() {
        BucketRule rule = BucketRule.defaults(List.of(new Bucket(49, 480, 720)),
                FrameRule.cogVideoX15(OddLatentPolicy.TRIM));
        BucketAssignment a = rule.assign(90, 480, 720);
        assertThat(a.bucket()).isEqualTo(new Bucket(45, 480, 720));
        assertThat(a.frameIndices()).containsExactly(IntStream.range(0, 45).map(i -> 2 * i).toArray());
        assertThat(rule.assign(45, 480, 720).bucket().frames()).isEqualTo(45);
    }

    @Test
    void keepsOddLatentBucketsForThePadPolicy() {
        BucketRule rule = BucketRule.defaults(List.of(new Bucket(49, 480, 720)),
                FrameRule.cogVideoX15(OddLatentPolicy.PAD_IN_OBJECTIVE));
        assertThat(rule.assign(49, 480, 720).bucket().frames()).isEqualTo(49);
    }

    @Test
    void rejectsBucketsThatBreakTheModelFrameRules() {
        assertThatThrownBy(() -> BucketRule.defaults(List.of(new Bucket(48, 480, 720)), FrameRule.cogVideoX10()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("4k+1")
                .hasMessageContaining("nearest: 45 or 49");
    }

    @Test
    void exactRatioComparisonHandlesProductsBeyond64Bits() {
        long big = 3_000_000_000L * 3_000_000_000L / 4; // ~2.25e18
        assertThat(DefaultBucketRule.lessThan(big, big - 1, big + 1, big)).isFalse();
        assertThat(DefaultBucketRule.lessThan(big + 1, big, big, big - 1)).isTrue();
    }

    @Test
    void neverCutsAVideoToASingleFrame() {
        BucketRule rule = BucketRule.defaults(List.of(new Bucket(33, 480, 720), new Bucket(1, 480, 720)));
        assertThat(rule.assign(1, 480, 720).bucket()).isEqualTo(new Bucket(1, 480, 720));
        assertThatThrownBy(() -> rule.assign(20, 480, 720)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("20x480x720");
    }
}
