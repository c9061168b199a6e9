package io.github.cogvideox4j.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.cogvideox4j.core.config.CogVideoXVariant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Per-variant frame rules and the 1.5 odd-latent policy. */
class FrameRuleTest {

    @Test
    void rejectsFrameCountsThatAreNot4kPlus1() {
        assertThatThrownBy(() -> FrameRule.cogVideoX10().checkBucket(new Bucket(50, 480, 720)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("50 frames")
                .hasMessageContaining("nearest: 49 or 53");
    }

    @Test
    void rejectsSidesThatAreNotMultiplesOf16() {
        assertThatThrownBy(() -> FrameRule.cogVideoX10().checkBucket(new Bucket(49, 480, 700)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("width 700")
                .hasMessageContaining("nearest: 688 or 704");
    }

    @Test
    void trimPolicyDrops4PixelFramesForAnOddLatentCount() {
        FrameRule rule = FrameRule.cogVideoX15(OddLatentPolicy.TRIM);
        assertThat(rule.apply(new Bucket(49, 768, 1360))).isEqualTo(new Bucket(45, 768, 1360));
        assertThat(rule.apply(new Bucket(17, 768, 1360)).frames()).isEqualTo(13);
        assertThat(rule.apply(new Bucket(9, 768, 1360)).frames()).isEqualTo(5);
        assertThat(rule.apply(new Bucket(53, 768, 1360)).frames()).isEqualTo(53);
    }

    @Test
    void trimKeepsTheFirstFramesOfAnAssignment() {
        FrameRule rule = FrameRule.cogVideoX15(OddLatentPolicy.TRIM);
        BucketAssignment a = rule.apply(BucketAssignment.strided(new Bucket(49, 480, 720), 0, 2, 49));
        assertThat(a.bucket().frames()).isEqualTo(45);
        assertThat(a.frameIndices()).hasSize(45).startsWith(0, 2, 4).endsWith(88);
    }

    @Test
    void padPolicyKeepsTheBucketAndAsksTheObjectiveForOneLatentFrame() {
        FrameRule rule = FrameRule.cogVideoX15(OddLatentPolicy.PAD_IN_OBJECTIVE);
        Bucket b = rule.apply(new Bucket(49, 768, 1360));
        assertThat(b.frames()).isEqualTo(49);
        assertThat(rule.latentPaddingFrames(b)).isEqualTo(1);
        assertThat(rule.latentPaddingFrames(new Bucket(53, 768, 1360))).isZero();
    }

    @Test
    void imageBucketsAreNeverTrimmed() {
        FrameRule rule = FrameRule.cogVideoX15(OddLatentPolicy.TRIM);
        assertThat(rule.apply(new Bucket(1, 768, 1360)).frames()).isEqualTo(1);
        assertThat(rule.latentPaddingFrames(new Bucket(1, 768, 1360))).isEqualTo(1);
    }

    @Test
    void version10NeitherTrimsNorPads() {
        FrameRule rule = FrameRule.of(CogVideoXVariant.COGVIDEOX_5B, OddLatentPolicy.TRIM);
        assertThat(rule.apply(new Bucket(49, 480, 720)).frames()).isEqualTo(49);
        assertThat(rule.latentPaddingFrames(new Bucket(49, 480, 720))).isZero();
    }

    @Test
    void variant15FollowsTheConfiguredPolicy() {
        FrameRule rule = FrameRule.of(CogVideoXVariant.COGVIDEOX_1_5_5B_I2V, OddLatentPolicy.TRIM);
        assertThat(rule.apply(new Bucket(81, 768, 1360)).frames()).isEqualTo(77);
    }

    @Test
    void checksEveryBucketOfASet() {
        FrameRule rule = FrameRule.cogVideoX10();
        assertThatThrownBy(() -> rule.checkBuckets(List.of(new Bucket(49, 480, 720), new Bucket(49, 12, 720))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("height 12");
    }

    @Test
    void latentFramesOf49Is13() {
        assertThat(FrameRule.latentFrames(49)).isEqualTo(13);
        assertThat(FrameRule.latentFrames(1)).isEqualTo(1);
    }
}
