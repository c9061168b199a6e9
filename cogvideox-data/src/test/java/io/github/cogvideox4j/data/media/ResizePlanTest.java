package io.github.cogvideox4j.data.media;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class ResizePlanTest {
    @Test
    void resizeScalesTheWholeFrameToTheBucket() {
        assertThat(ResizePlan.of(480, 640, 32, 48, ResizeMode.RESIZE, null))
                .isEqualTo(new ResizePlan(32, 48, 0, 0, 32, 48));
    }

    @Test
    void centerCropCoversTheBucketKeepingAspectAndCutsTheMiddle() {
        // 480x720 into 480x480: scale 1, cut 120 columns each side.
        assertThat(ResizePlan.of(480, 720, 480, 480, ResizeMode.CENTER_CROP, null))
                .isEqualTo(new ResizePlan(480, 720, 0, 120, 480, 480));
        // 100x100 into 30x60: scale 0.6 -> 60x60, cut rows 15..45.
        assertThat(ResizePlan.of(100, 100, 30, 60, ResizeMode.CENTER_CROP, null))
                .isEqualTo(new ResizePlan(60, 60, 15, 0, 30, 60));
    }

    @Test
    void randomCropIsReproducibleFromTheSeed() {
        ResizePlan a = ResizePlan.of(100, 300, 50, 50, ResizeMode.RANDOM_CROP, new SplittableRandom(7));
        ResizePlan b = ResizePlan.of(100, 300, 50, 50, ResizeMode.RANDOM_CROP, new SplittableRandom(7));

        assertThat(a).isEqualTo(b);
        assertThat(a.scaledHeight()).isEqualTo(50);
        assertThat(a.scaledWidth()).isEqualTo(150);
    }

    @Property(tries = 300)
    void croppedPlansAlwaysCoverTheBucketAndKeepAspect(@ForAll @IntRange(min = 1, max = 2000) int sh,
            @ForAll @IntRange(min = 1, max = 2000) int sw, @ForAll @IntRange(min = 1, max = 1000) int h,
            @ForAll @IntRange(min = 1, max = 1000) int w, @ForAll long seed) {
        for (ResizeMode mode : new ResizeMode[] {ResizeMode.CENTER_CROP, ResizeMode.RANDOM_CROP}) {
            ResizePlan p = ResizePlan.of(sh, sw, h, w, mode, new SplittableRandom(seed));
            assertThat(p.top() + h).isLessThanOrEqualTo(p.scaledHeight());
            assertThat(p.left() + w).isLessThanOrEqualTo(p.scaledWidth());
            // one side is exactly the bucket's (cover scale), the other keeps the aspect within a pixel
            assertThat(p.scaledHeight() == h || p.scaledWidth() == w).isTrue();
            double aspectError = Math.abs((double) p.scaledWidth() / p.scaledHeight() - (double) sw / sh);
            assertThat(aspectError).isLessThanOrEqualTo((double) sw / sh / Math.min(p.scaledHeight(),
                    p.scaledWidth()) + 1.0 / p.scaledHeight() + 1e-9);
        }
    }

    @Test
    void parsesConfigSpellings() {
        assertThat(ResizeMode.parse("center_crop")).isEqualTo(ResizeMode.CENTER_CROP);
        assertThat(ResizeMode.parse("random")).isEqualTo(ResizeMode.RANDOM_CROP);
        assertThat(ResizeMode.parse("resize")).isEqualTo(ResizeMode.RESIZE);
    }
}
