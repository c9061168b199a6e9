package io.github.cogvideox4j.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.config.CogVideoXVariant;
import org.junit.jupiter.api.Test;

class TrainingFlopsTest {
    private static final CogVideoXConfig FIVE_B = CogVideoXConfig.released(CogVideoXVariant.COGVIDEOX_5B);
    private static final long N_5B = 17_550;

    @Test
    void blockLinearsAreFourSquareAndTwoFeedForwardGemms() {
        long s = 17_776, d = 3072;
        double sixGemms = 4 * 2.0 * s * d * d + 2 * 2.0 * s * d * (4 * d);
        assertThat(TrainingFlops.blockLinearForward(1, s, d)).isEqualTo(sixGemms);
    }

    @Test
    void attentionOf5bAtFullClipIsAbout3Point9TeraFlopPerBlock() {
        // 4 · H · S² · d with H = 48, d = 64
        assertThat(TrainingFlops.attentionForward(1, 17_776, 3072)).isEqualTo(4.0 * 48 * 17_776.0 * 17_776 * 64);
        assertThat(TrainingFlops.attentionForward(1, 17_776, 3072) / 1e12).isCloseTo(3.88, within(0.01));
    }

    @Test
    void fullStepIsThreeForwardsExceptTheStemWhoseInputsNeedNoGradient() {
        double forward = TrainingFlops.modelForward(FIVE_B, 1, N_5B, 0);
        double stem = TrainingFlops.stemForward(FIVE_B, 1, N_5B);
        assertThat(TrainingFlops.step(FIVE_B, 1, N_5B, 0, false)).isCloseTo(3 * forward - stem, within(1e3));
    }

    @Test
    void recomputeAddsOneForwardOfEveryBlock() {
        for (int rank : new int[] {0, 128}) {
            double extra = TrainingFlops.step(FIVE_B, 1, N_5B, rank, true) - TrainingFlops.step(FIVE_B, 1, N_5B, rank, false);
            assertThat(extra).isCloseTo(42 * TrainingFlops.blockForward(FIVE_B, 1, N_5B, rank), within(1e3));
        }
    }

    @Test
    void loraStepSkipsTheFrozenWeightGradients() {
        long s = N_5B + 226;
        double lin = TrainingFlops.blockLinearForward(1, s, 3072);
        double ada = TrainingFlops.adaLnForward(1, 512, 3072);
        double att = TrainingFlops.attentionForward(1, s, 3072);
        double lora = TrainingFlops.loraForward(1, s, 3072, 128);
        double expected = 42 * (2 * (lin + ada) + 3 * (att + lora)) + 2 * TrainingFlops.headForward(FIVE_B, 1, N_5B)
                + TrainingFlops.stemForward(FIVE_B, 1, N_5B);
        assertThat(TrainingFlops.step(FIVE_B, 1, N_5B, 128, false)).isCloseTo(expected, within(1e3));
    }
}
