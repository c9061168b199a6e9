package io.github.cogvideox4j.lora.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

/** Every schedule against Diffusers' get_scheduler lambdas, at hand-computed points. */
class LearningRateScheduleTest {
    @Test
    void constantIgnoresWarmup() {
        LearningRateSchedule s = LearningRateSchedule.of("constant", 1e-3, 10, 100, 1);
        assertThat(s.learningRate(0)).isEqualTo(1e-3);
        assertThat(s.learningRate(50)).isEqualTo(1e-3);
    }

    @Test
    void constantWithWarmupRampsLinearlyFromZero() {
        LearningRateSchedule s = LearningRateSchedule.constantWithWarmup(1.0, 4);
        assertThat(new double[] {s.multiplier(0), s.multiplier(1), s.multiplier(3), s.multiplier(4), s.multiplier(99)})
                .containsExactly(0, 0.25, 0.75, 1, 1);
    }

    @Test
    void linearWarmsUpThenDecaysToZeroAtTheTotal() {
        LearningRateSchedule s = LearningRateSchedule.linear(2.0, 10, 110);
        assertThat(s.learningRate(5)).isEqualTo(1.0);
        assertThat(s.learningRate(10)).isEqualTo(2.0);
        assertThat(s.learningRate(60)).isEqualTo(1.0);
        assertThat(s.learningRate(110)).isEqualTo(0.0);
        assertThat(s.learningRate(200)).isEqualTo(0.0);
    }

    @Test
    void cosineFollowsHalfACycle() {
        LearningRateSchedule s = LearningRateSchedule.of("cosine", 1.0, 0, 100, 3);
        assertThat(s.numCycles()).isEqualTo(0.5);
        assertThat(s.multiplier(0)).isEqualTo(1.0);
        assertThat(s.multiplier(50)).isCloseTo(0.5, within(1e-12));
        assertThat(s.multiplier(25)).isCloseTo(0.5 * (1 + Math.cos(Math.PI * 0.25)), within(1e-12));
        assertThat(s.multiplier(100)).isCloseTo(0.0, within(1e-12));
    }

    @Test
    void cosineWithRestartsRestartsEveryCycleAndEndsAtZero() {
        LearningRateSchedule s = LearningRateSchedule.cosineWithRestarts(1.0, 10, 110, 2);
        assertThat(s.multiplier(5)).isEqualTo(0.5);
        assertThat(s.multiplier(10)).isEqualTo(1.0);
        // progress 0.25 -> (2 * 0.25) % 1 = 0.5
        assertThat(s.multiplier(35)).isCloseTo(0.5, within(1e-12));
        // progress 0.5 -> restart
        assertThat(s.multiplier(60)).isCloseTo(1.0, within(1e-12));
        assertThat(s.multiplier(85)).isCloseTo(0.5, within(1e-12));
        assertThat(s.multiplier(110)).isEqualTo(0.0);
    }

    @Test
    void unknownNamesAreRefused() {
        assertThatThrownBy(() -> LearningRateSchedule.of("polynomial", 1, 0, 10, 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("polynomial");
    }
}
