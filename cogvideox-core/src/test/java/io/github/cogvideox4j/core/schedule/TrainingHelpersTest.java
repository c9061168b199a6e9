package io.github.cogvideox4j.core.schedule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Timestep sampling, I2V conditioning and caption dropout. */
class TrainingHelpersTest {

    @Test
    void timestepSamplerIsUniformOverTheTrainingRangeAndSeeded() {
        TimestepSampler a = TimestepSampler.uniform(1000, 4);
        long[] draws = a.nextValues(20000);
        assertThat(Arrays.stream(draws).min().getAsLong()).isZero();
        assertThat(Arrays.stream(draws).max().getAsLong()).isEqualTo(999);
        assertThat(Arrays.stream(draws).average().getAsDouble()).isCloseTo(499.5, within(10.0));
        assertThat(TimestepSampler.uniform(1000, 4).nextValues(20000)).containsExactly(draws);
        try (NDManager m = NDManager.newBaseManager()) {
            assertThat(TimestepSampler.uniform(1000, 1).next(3, m).getShape()).isEqualTo(new Shape(3));
        }
    }

    @Test
    void noiseAugmentationSigmaIsLogNormalAroundExpMinusThree() {
        SplittableRandom r = new SplittableRandom(3);
        double[] s = new double[20001];
        for (int i = 0; i < s.length; i++) {
            s[i] = ImageConditioning.noiseAugmentationSigma(r);
        }
        Arrays.sort(s);
        assertThat(s[s.length / 2]).isCloseTo(Math.exp(-3), within(0.002));
    }

    @Test
    void augmentAddsOneSigmaPerBatchTimesStandardNoise() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray images = m.zeros(new Shape(2, 3, 1, 4, 4));
            NDArray out = ImageConditioning.diffusersScript().augment(images, new SplittableRandom(5));
            SplittableRandom r = new SplittableRandom(5);
            double sigma = ImageConditioning.noiseAugmentationSigma(r);
            float[] v = out.toFloatArray();
            for (float x : v) {
                assertThat((double) x).isCloseTo(sigma * (float) r.nextGaussian(), within(1e-6));
            }
        }
    }

    @Test
    void prepareScalesPermutesPadsAndDropsPerSample() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray encoded = m.ones(new Shape(2, 4, 1, 2, 3));
            NDArray kept = ImageConditioning.cogVideoTrainer().prepare(encoded, 0.7, 5, new SplittableRandom(1));
            assertThat(kept.getShape()).isEqualTo(new Shape(2, 5, 4, 2, 3));
            assertThat(kept.get(new NDIndex(":, 0")).toFloatArray()).containsOnly(0.7f);
            assertThat(kept.get(new NDIndex(":, 1:")).toFloatArray()).containsOnly(0f);
            NDArray divided = ImageConditioning.cogVideoTrainer().withScale(ImageLatentScale.DIVIDE)
                    .prepare(encoded, 0.7, 1, new SplittableRandom(1));
            assertThat(divided.toFloatArray()).containsOnly((float) (1 / 0.7));
            NDArray dropped = ImageConditioning.diffusersScript().withDropoutProbability(1.0)
                    .prepare(encoded, 0.7, 5, new SplittableRandom(1));
            assertThat(dropped.toFloatArray()).containsOnly(0f);
            assertThat(ImageConditioning.diffusersScript().dropoutProbability()).isEqualTo(0.05);
        }
    }

    @Test
    void captionDropoutReplacesDroppedSamplesByZerosOrTheEmptyPrompt() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray prompts = m.ones(new Shape(2, 3, 4));
            NDArray empty = m.full(new Shape(1, 3, 4), 5f);
            assertThat(new CaptionDropout(1.0, CaptionDropout.Technique.ZERO).apply(prompts, null,
                    new SplittableRandom(1)).toFloatArray()).containsOnly(0f);
            assertThat(new CaptionDropout(1.0, CaptionDropout.Technique.EMPTY).apply(prompts, empty,
                    new SplittableRandom(1)).toFloatArray()).containsOnly(5f);
            assertThat(new CaptionDropout(0.0, CaptionDropout.Technique.EMPTY).apply(prompts, empty,
                    new SplittableRandom(1)).toFloatArray()).containsOnly(1f);
        }
    }
}
